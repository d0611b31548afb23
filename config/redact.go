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

// Format formats String with any verb and flags, so that no verb, not even
// %d or %x, shows the secret.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), s.String()) }

// MarshalJSON returns the JSON string of String.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText returns String as bytes.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue returns String, so that slog never shows the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

var (
	schemePrefix = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://`)
	keywordValue = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)
	// kvSecret matches a password or sslpassword and its value as libpq reads
	// it: quoted ('it\'s', or to the end if unclosed) or up to a space.
	kvSecret = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:\\.|[^'\\])*'|'.*|(?:\\.|[^\s\\])+)`)
)

// hasScheme reports whether s starts like a URL, scheme first.
func hasScheme(s string) bool { return schemePrefix.MatchString(s) }

// RedactURL returns raw with every password replaced by "[REDACTED]": in a
// URL or a comma-separated list of URLs, the password of the user
// information (postgres://user:pw@host), or all of it for schemes but
// postgres and postgresql, where a user name alone is a token
// (nats://token@host), and the query parameters password and sslpassword;
// in a libpq keyword/value string (host=db password=pw), the values of
// password and sslpassword. Where raw is malformed it hides more, not less.
func RedactURL(raw string) string {
	if !hasScheme(raw) && keywordValue.MatchString(raw) {
		return kvSecret.ReplaceAllString(raw, "${1}"+redactedText)
	}
	var urls []string
	for p := range strings.SplitSeq(raw, ",") {
		// A piece without "://" is a further host of a multi-host URL
		// (postgres://u:pw@h1,h2/db) or part of a password with a comma.
		if len(urls) > 0 && !strings.Contains(p, "://") {
			urls[len(urls)-1] += "," + p
		} else {
			urls = append(urls, p)
		}
	}
	for i, u := range urls {
		urls[i] = redactOneURL(u)
	}
	return strings.Join(urls, ",")
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
	if _, err := url.Parse(s); at < 0 && (err != nil || scheme == "") {
		// A password with a raw "/", "?" or "#" ends the host part early
		// and makes the URL unparsable: hide everything up to the last "@".
		at = strings.LastIndex(rest, "@")
	}
	if at < 0 {
		return head + redactQuery(rest)
	}
	user, password, ok := strings.Cut(rest[:at], ":")
	switch {
	case ok && password != "":
		user += ":" + redactedText
	case ok:
		user += ":"
	case scheme != "postgres" && scheme != "postgresql":
		user = redactedText // a token, as in nats://token@host
	}
	return head + user + redactQuery(rest[at:])
}

// redactQuery redacts the values of password and sslpassword, their names
// percent-encoded or not, in the query of s, the part of a URL after its host.
func redactQuery(s string) string {
	path, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	params := strings.Split(query, "&")
	for i, p := range params {
		k, v, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if name = strings.ToLower(name); v != "" && (name == "password" || name == "sslpassword") {
			params[i] = k + "=" + redactedText
		}
	}
	if hasFrag {
		frag = "#" + frag
	}
	return path + "?" + strings.Join(params, "&") + frag
}
