package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
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

// Format formats String with any verb and flags of fmt, so that no verb,
// not even %d or %x, shows the secret.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalJSON returns the JSON string of String.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText returns String as bytes.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue returns String, so that slog never shows the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// RedactURL returns raw with every password replaced by "[REDACTED]". It
// understands:
//   - URLs: the password of the user information (postgres://user:pw@host),
//     or the whole user information for schemes other than postgres and
//     postgresql, where a user name alone is a token (nats://token@host);
//     and the query parameters password and sslpassword;
//   - comma-separated lists of URLs, such as a NATS server list;
//   - libpq keyword/value strings (host=db password=pw): the values of
//     password and sslpassword, quoted or not.
//
// Where raw is malformed it hides more rather than less.
func RedactURL(raw string) string {
	if !hasScheme(raw) && keywordValue.MatchString(raw) {
		return kvSecret.ReplaceAllString(raw, "${1}"+redactedText)
	}
	parts := splitURLs(raw)
	for i, p := range parts {
		parts[i] = redactOneURL(p)
	}
	return strings.Join(parts, ",")
}

var (
	// keywordValue matches the start of a libpq keyword/value string.
	keywordValue = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)
	// kvSecret matches a password or sslpassword and its value, as libpq
	// reads it: quoted with ' (\' and \\ inside), to the end of the string
	// if the quote is not closed, or else up to the next space, where a
	// backslash escapes the next character.
	kvSecret = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:\\.|[^'\\])*'|'.*|(?:\\.|[^\s\\])+)`)
)

// schemePrefix matches the start of a URL.
var schemePrefix = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://`)

// hasScheme reports whether s starts like a URL, scheme first.
func hasScheme(s string) bool { return schemePrefix.MatchString(s) }

// splitURLs splits a comma-separated list of URLs. A piece without "://"
// stays with the one before it: it is a further host of a multi-host URL
// (postgres://u:pw@h1,h2/db) or part of a password with a comma.
func splitURLs(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if len(out) > 0 && !strings.Contains(p, "://") {
			out[len(out)-1] += "," + p
			continue
		}
		out = append(out, p)
	}
	return out
}

// redactOneURL redacts the user information and the secret query
// parameters of one URL.
func redactOneURL(s string) string {
	head, rest, scheme := "", s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		head, rest, scheme = s[:i+3], s[i+3:], strings.ToLower(s[:i])
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		// A password with a raw "/", "?" or "#" ends the host part early
		// and makes the URL unparsable: hide everything up to the last "@".
		if j := strings.LastIndex(rest, "@"); j >= 0 {
			if _, err := url.Parse(s); err != nil || scheme == "" {
				at = j
			}
		}
	}
	if at < 0 {
		return head + redactQuery(rest)
	}
	return head + redactUserinfo(scheme, rest[:at]) + redactQuery(rest[at:])
}

// redactUserinfo redacts the user information ui of a URL of scheme.
func redactUserinfo(scheme, ui string) string {
	user, password, ok := strings.Cut(ui, ":")
	switch {
	case ok && password == "":
		return ui
	case ok:
		return user + ":" + redactedText
	case scheme == "postgres" || scheme == "postgresql":
		return ui // a user name alone
	default:
		return redactedText // a token, as in nats://token@host
	}
}

// redactQuery redacts the secret parameters of the query in s, the part of
// a URL after its host.
func redactQuery(s string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	query, frag := s[q+1:], ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	params := strings.Split(query, "&")
	for i, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			continue
		}
		name := k
		if u, err := url.QueryUnescape(k); err == nil {
			name = u
		}
		if isSecretParam(name) {
			params[i] = k + "=" + redactedText
		}
	}
	return s[:q+1] + strings.Join(params, "&") + frag
}

// isSecretParam reports whether a connection parameter holds a password.
func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	return name == "password" || name == "sslpassword"
}
