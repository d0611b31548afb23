package config

import (
	"fmt"
	"reflect"
	"time"
)

// alias is a key that configurations written for other tools use for
// something fedsaga has under another key.
type alias struct {
	key  string // fedsaga's key, in the same table
	flat bool   // the alias is a table whose keys fedsaga has as one flat key
	note string // what else to change, such as the value's form
}

// durationNote is the reminder for aliases whose values were numbers.
const durationNote = `durations are strings such as "200ms" or "30s"`

// aliases are the keys of other tools that have a fedsaga equivalent, by
// the table they appear in: the one place that knows them. An unknown key
// found here gets its equivalent named instead of the closest spelling.
var aliases = map[reflect.Type]map[string]alias{
	reflect.TypeFor[Database](): {
		"pool_max":             {key: "pool_size"},
		"max_pool_size":        {key: "pool_size"},
		"pool_max_conns":       {key: "pool_size"},
		"max_connections":      {key: "pool_size"},
		"pool_timeout_ms":      {key: "pool_timeout", note: durationNote},
		"acquire_timeout":      {key: "pool_timeout"},
		"connect_timeout":      {key: "pool_timeout"},
		"log_slow_queries_ms":  {key: "log_slow_queries", note: durationNote},
		"slow_query_threshold": {key: "log_slow_queries"},
		"statement_timeout_ms": {key: "statement_timeout", note: durationNote},
		"idle":                 {key: "idle_max_age", flat: true, note: `write idle_max_age = "5m" in the database's own table`},
		"max_idle_time":        {key: "idle_max_age"},
		"idle_timeout":         {key: "idle_max_age"},
		"log_statements":       {key: "log_queries"},
	},
	reflect.TypeFor[NATSAuth](): {
		"nkey":        {key: "nkey_seed_file", note: "fedsaga reads the NKey seed from a file, never inline"},
		"seed":        {key: "nkey_seed_file", note: "fedsaga reads the NKey seed from a file, never inline"},
		"credentials": {key: "credentials_file"},
		"creds":       {key: "credentials_file"},
		"username":    {key: "user"},
	},
}

// aliasHint names fedsaga's equivalent of the unknown key k of the table
// key, whose type is t; ok is false when k is no known alias.
func aliasHint(k string, t reflect.Type, key string) (hint string, ok bool) {
	a, ok := aliases[t][k]
	if !ok {
		return "", false
	}
	flat := ""
	if a.flat {
		flat = " (flat key)"
	}
	hint = fmt.Sprintf("; did you mean `%s`%s? fedsaga's key is %s", a.key, flat, joinKey(key, a.key))
	if a.note != "" {
		hint += ": " + a.note
	}
	return hint, true
}

// durationHint is the hint for a number given where a duration is
// expected, guessing it meant milliseconds (as the keys of other tools
// that end in _ms do).
func durationHint(ms int64) string {
	return fmt.Sprintf(`; durations are strings such as %q (if %d meant milliseconds)`, (time.Duration(ms) * time.Millisecond).String(), ms)
}
