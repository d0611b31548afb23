package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// This file reads PostgreSQL connection strings the way pgx's parser
// (pgconn.ParseConfig) does, for what pgx does not export: where in the
// string a password sits, and the hosts and ports it names. pgx itself
// decides whether a string parses (parsePostgres); the fuzz tests hold
// these readings to what pgx makes of the same strings.

// pgURLPrefixes are the prefixes with which pgx reads a connection string
// as a URL; it reads any other string as keyword/value pairs.
var pgURLPrefixes = []string{"postgresql://", "postgres://"}

// cutPgURL returns s without its postgres:// or postgresql:// prefix, and
// whether it had one, exactly as pgx tells a URL from keyword/value pairs.
func cutPgURL(s string) (rest string, ok bool) {
	for _, p := range pgURLPrefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest, true
		}
	}
	return s, false
}

// kvSpaces are the characters around keywords and values that pgx skips.
const kvSpaces = " \t\n\r\v\f"

func isKVSpace(c byte) bool { return strings.IndexByte(kvSpaces, c) >= 0 }

// kvPair is one keyword=value pair of a keyword/value connection string:
// the keyword, the value as pgx reads it (quotes and backslashes removed)
// and the value's place in the string, quotes included.
type kvPair struct {
	key, value string
	start, end int
}

// keywordValuePairs reads s as pgx reads a keyword/value string. ok is false
// where pgx refuses s; then pairs holds what was read before the problem,
// and at is where it starts. An unterminated quoted value is returned
// as running to the end of s.
func keywordValuePairs(s string) (pairs []kvPair, at int, ok bool) {
	i := skipKVSpaces(s, 0)
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return pairs, i, false
		}
		key := strings.Trim(s[i:i+eq], kvSpaces)
		if key == "" || strings.ContainsAny(key, kvSpaces) {
			return pairs, i, false
		}
		v := skipKVSpaces(s, i+eq+1)
		end, closed := v, true
		if v < len(s) && s[v] == '\'' {
			end, closed = v+1, false
			for ; end < len(s); end++ {
				if s[end] == '\\' {
					end++
				} else if s[end] == '\'' {
					closed = true
					break
				}
			}
			end = min(end+1, len(s))
		} else {
			for ; end < len(s) && !isKVSpace(s[end]); end++ {
				if s[end] == '\\' {
					end++
				}
			}
			end = min(end, len(s))
		}
		pairs = append(pairs, kvPair{key: key, value: unescapeKV(s[v:end]), start: v, end: end})
		if !closed {
			return pairs, v, false
		}
		i = skipKVSpaces(s, end)
	}
	return pairs, len(s), true
}

func skipKVSpaces(s string, i int) int {
	for i < len(s) && isKVSpace(s[i]) {
		i++
	}
	return i
}

// unescapeKV returns a keyword/value value as pgx reads it: without its
// quotes, a backslash taking the next character literally.
func unescapeKV(raw string) string {
	if len(raw) > 0 && raw[0] == '\'' {
		raw = strings.TrimSuffix(raw[1:], "'")
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			if i++; i == len(raw) {
				break
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// decodeLenient percent-decodes a URL component as pgx does when it looks
// for password keys: spaces around it trimmed, invalid escapes kept as is.
func decodeLenient(raw string) string {
	raw = strings.Trim(raw, " ")
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) {
			if n, err := strconv.ParseUint(raw[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// isPasswordKey reports whether a connection string key, decoded, names a
// password: password or sslpassword, in any case (pgx sends a key it does
// not know, such as PASSWORD, to the server as a setting).
func isPasswordKey(key string) bool {
	key = strings.ToLower(key)
	return key == "password" || key == "sslpassword"
}

// urlUserInfo returns the end of the user information of rest, a postgres
// URL without its scheme, as pgx finds it: the first "@" before any "/";
// -1 for none.
func urlUserInfo(rest string) int {
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		return i
	}
	return -1
}

// urlHostsPorts returns the host and port lists of rest, a postgres URL
// without its scheme, as pgx reads them: the comma-separated host[:port]
// list after the user information, replaced by the query's host and port.
func urlHostsPorts(rest string) (hosts, ports []string) {
	p := rest[urlUserInfo(rest)+1:]
	var hostList, portList []string
	for {
		host := ""
		if strings.HasPrefix(p, "[") {
			end := max(strings.IndexByte(p, ']'), 0)
			host, p = p[1:end], p[end+1:]
		} else {
			i := strings.IndexAny(p, ":/?,")
			if i < 0 {
				i = len(p)
			}
			host, p = p[:i], p[i:]
		}
		port := ""
		if strings.HasPrefix(p, ":") {
			i := strings.IndexAny(p[1:], "/?,")
			if i < 0 {
				i = len(p) - 1
			}
			port, p = p[1:i+1], p[i+1:]
		}
		hostList, portList = append(hostList, host), append(portList, port)
		if !strings.HasPrefix(p, ",") {
			break
		}
		p = p[1:]
	}
	hosts = strings.Split(decodeLenient(strings.Join(hostList, ",")), ",")
	ports = strings.Split(decodeLenient(strings.Join(portList, ",")), ",")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		for pair := range strings.SplitSeq(p[i+1:], "&") {
			k, v, _ := strings.Cut(pair, "=")
			switch decodeLenient(k) {
			case "host":
				hosts = strings.Split(decodeLenient(v), ",")
			case "port":
				ports = strings.Split(decodeLenient(v), ",")
			}
		}
	}
	return hosts, ports
}

// checkPorts checks a connection string's hosts and ports as pgx does when
// it builds its configuration: one port for all hosts or one per host, each
// empty (the default) or a number from 1 to 65535. Its errors never quote
// a port, which may be a misplaced password.
func checkPorts(hosts, ports []string) error {
	if len(ports) > 1 && len(ports) != len(hosts) {
		return fmt.Errorf("names %d ports for %d hosts; give one port for all hosts or one per host", len(ports), len(hosts))
	}
	for i, p := range ports {
		if n, err := strconv.ParseUint(p, 10, 16); p != "" && (err != nil || n < 1) {
			what := "the port"
			if len(ports) > 1 {
				what = fmt.Sprintf("port %d", i+1)
			}
			return fmt.Errorf(`%s is not a number from 1 to 65535; if the password holds ":", "/", "?" or "@", percent-encode them (%%3A, %%2F, %%3F, %%40)`, what)
		}
	}
	return nil
}

// parsePostgres reports whether pgx's parser accepts s as a connection
// string, without reading any file or the environment: with no key
// allowed, pgx refuses the first key it read before it looks at files
// (sslrootcert, service, passfile), so only a syntax error has a cause.
// The error is pgx's reason, its quotes of s left out.
func parsePostgres(s string) error {
	_, err := pgconn.ParseConfigWithOptions(s, pgconn.ParseConfigOptions{ConnStringAllowedKeys: []string{}})
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return errors.New(elideQuotes(pe.Unwrap().Error()))
	}
	return nil
}

// elideQuotes replaces everything from the first to the last double quote
// of a pgx message with "…": pgx quotes the raw text of a component, which
// in a malformed string may be part of a password.
func elideQuotes(msg string) string {
	first, last := strings.IndexByte(msg, '"'), strings.LastIndexByte(msg, '"')
	if first < 0 || first == last {
		return msg
	}
	return msg[:first] + `"…"` + msg[last+1:]
}
