package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// redactedText replaces every secret that is shown.
const redactedText = "[REDACTED]"

// Secret is a string that must not be shown, such as a NATS token: every
// way of printing, logging or marshalling it (fmt's verbs, String,
// GoString, JSON, text, slog) gives "[REDACTED]", or "" when it is empty.
// Use Value for the secret itself.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "[REDACTED]", or "" for an empty Secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redactedText
}

// GoString returns the same as String.
func (s Secret) GoString() string { return s.String() }

// Format formats String with any verb and flags, so that no verb, not even
// %d or %x, shows the secret.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), s.String()) }

// MarshalJSON returns the JSON string of String.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText returns String as bytes.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue returns String, so that slog never shows the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

var schemePrefix = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://`)

// hasScheme reports whether s starts like a URL, scheme first.
func hasScheme(s string) bool { return schemePrefix.MatchString(s) }

// minShownSecret is the length from which a secret is also hidden where
// it recurs elsewhere: hiding every "a" of a one-letter password would
// point at it rather than hide it.
const minShownSecret = 4

// RedactURL returns raw, a connection string or a comma-separated list of
// server URLs, with every secret replaced by "[REDACTED]". For a
// PostgreSQL connection string it follows pgx's own reading: in a
// postgres:// or postgresql:// URL, the password of the user information,
// found as pgx finds it (up to the first "@" before any "/", so that
// postgres://u:2024#pw@db/x hides "2024#pw"), and the query parameters
// password and sslpassword (their names percent-encoded or not, each
// value up to the next "&"); in any other string, which pgx reads as
// keyword/value pairs, the values of password and sslpassword, in any
// case. Where a string is malformed it hides more, not less: from the
// first ":" to the last "@" of a URL (a password with a raw "/", "?" or
// "@"), a user name alone for schemes but postgres (nats://token@host), a
// value whose quote is never closed and whatever follows a password
// keyword that pgx cannot read. A secret of four characters or more is
// also hidden wherever else it occurs, as written, percent-decoded or
// percent-encoded.
func RedactURL(raw string) string {
	spans := secretSpans(raw)
	secrets := secretForms(raw, spans)
	var b strings.Builder
	at := 0
	for _, sp := range merge(spans) {
		b.WriteString(hideAll(raw[at:sp.start], secrets))
		b.WriteString(redactedText)
		at = sp.end
	}
	b.WriteString(hideAll(raw[at:], secrets))
	return b.String()
}

// RedactText returns text with every secret that RedactURL hides in any
// of urls hidden too, wherever text holds it: as written in the URL,
// percent-decoded or percent-encoded (secrets of fewer than four
// characters aside). Use it for messages that may quote a connection
// string or part of one, such as a driver's errors.
func RedactText(text string, urls ...string) string {
	var secrets []string
	for _, u := range urls {
		secrets = append(secrets, secretForms(u, secretSpans(u))...)
	}
	return hideAll(text, secrets)
}

// span is the place of a secret in a string, from start to end.
type span struct{ start, end int }

// secretSpans returns the places of the secrets in raw.
func secretSpans(raw string) []span {
	var spans []span
	if rest, ok := cutPgURL(raw); ok {
		spans = urlSpans(rest, len(raw)-len(rest), false)
	} else {
		// pgx reads anything but a postgres URL as keyword/value pairs;
		// a string with a scheme is also read as a URL, and so is one
		// like user:pw@host, to hide more, not less.
		spans = keywordValueSpans(raw)
		start := 0
		for _, entry := range urlEntries(raw) {
			head, rest, scheme := "", entry, ""
			if i := strings.Index(entry, "://"); i >= 0 {
				head, rest, scheme = entry[:i+3], entry[i+3:], strings.ToLower(strings.TrimSpace(entry[:i]))
			}
			tokens := head != "" && scheme != "postgres" && scheme != "postgresql"
			spans = append(spans, urlSpans(rest, start+len(head), tokens)...)
			start += len(entry) + 1
		}
	}
	return spans
}

// merge returns spans sorted, merged where they touch or overlap.
func merge(spans []span) []span {
	spans = slices.Clone(spans)
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var merged []span
	for _, sp := range spans {
		if sp.end <= sp.start {
			continue
		}
		if n := len(merged); n > 0 && sp.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, sp.end)
		} else {
			merged = append(merged, sp)
		}
	}
	return merged
}

// urlEntries splits a comma-separated list of URLs. A piece without "://"
// is a further host of a multi-host URL (nats://u:pw@h1,h2) or part of a
// password with a comma, and stays with the URL before it.
func urlEntries(raw string) []string {
	var urls []string
	for p := range strings.SplitSeq(raw, ",") {
		if len(urls) > 0 && !strings.Contains(p, "://") {
			urls[len(urls)-1] += "," + p
		} else {
			urls = append(urls, p)
		}
	}
	return urls
}

// urlSpans returns the places of the secrets of rest, a URL after its
// "://" that starts at offset base of the whole string: from the first
// ":" to the last "@" (the user information's password, as pgx finds it,
// or more where a raw "/", "?" or "@" makes the URL ambiguous), or up to
// the last "@" when there is no ":" and tokens is set; and the value of
// every password or sslpassword parameter that follows a "?" or "&".
func urlSpans(rest string, base int, tokens bool) []span {
	var spans []span
	if last := strings.LastIndexByte(rest, '@'); last >= 0 {
		if c := strings.IndexByte(rest[:last], ':'); c >= 0 {
			spans = append(spans, span{base + c + 1, base + last})
		} else if tokens {
			spans = append(spans, span{base, base + last})
		}
	}
	for i := range len(rest) {
		if rest[i] != '?' && rest[i] != '&' {
			continue
		}
		pair, _, _ := strings.Cut(rest[i+1:], "&")
		if k, _, ok := strings.Cut(pair, "="); ok && isPasswordKey(decodeLenient(k)) {
			spans = append(spans, span{base + i + 1 + len(k) + 1, base + i + 1 + len(pair)})
		}
	}
	return spans
}

// keywordValueSpans returns the places of the password and sslpassword
// values of s read as keyword/value pairs; where pgx cannot read s, also
// whatever follows the first "password" after the problem.
func keywordValueSpans(s string) []span {
	pairs, at, ok := keywordValuePairs(s)
	var spans []span
	for _, p := range pairs {
		if isPasswordKey(p.key) {
			spans = append(spans, span{p.start, p.end})
		}
	}
	if !ok {
		if i := strings.Index(strings.ToLower(s[at:]), "password"); i >= 0 {
			spans = append(spans, span{at + i + len("password"), len(s)})
		}
	}
	return spans
}

// secretForms returns the secrets of raw at spans, each as written,
// decoded as pgx decodes it and percent-encoded, longest first, leaving
// out those shorter than minShownSecret.
func secretForms(raw string, spans []span) []string {
	var forms []string
	for _, sp := range spans {
		s := raw[sp.start:sp.end]
		for _, f := range []string{s, decodeLenient(s), unescapeKV(s)} {
			forms = append(forms, f, url.QueryEscape(f), url.PathEscape(f))
		}
	}
	forms = slices.DeleteFunc(forms, func(f string) bool { return len(f) < minShownSecret })
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(forms)
}

// hideAll replaces every occurrence of secrets, longest first, in s.
func hideAll(s string, secrets []string) string {
	if len(secrets) == 0 {
		return s
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, sec := range secrets {
		pairs = append(pairs, sec, redactedText)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
