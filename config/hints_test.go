package config

import (
	"strings"
	"testing"
)

// TestAliasHints: keys and values that configurations written for other
// tools use are refused with fedsaga's equivalent named.
func TestAliasHints(t *testing.T) {
	db := func(body string) string {
		return others + "[databases.orders]\nurl = \"postgres://a@db/orders\"\n" + body
	}
	tests := []struct {
		name, file string
		want       string
	}{
		{"pool_max", db("pool_max = 20\n"),
			"config: unknown key \"databases.orders.pool_max\"; did you mean `pool_size`? fedsaga's key is databases.orders.pool_size"},
		{"log_slow_queries_ms", db("log_slow_queries_ms = 200\n"),
			"config: unknown key \"databases.orders.log_slow_queries_ms\"; did you mean `log_slow_queries`? fedsaga's key is databases.orders.log_slow_queries: " +
				`durations are strings such as "200ms" or "30s"`},
		{"pool_timeout in milliseconds", db("pool_timeout = 30000\n"),
			`config: databases.orders.pool_timeout: expected a duration string such as "5s", got integer 30000; durations are strings such as "30s" (if 30000 meant milliseconds)`},
		{"log_slow_queries in milliseconds", db("log_slow_queries = 200\n"),
			`config: databases.orders.log_slow_queries: expected a duration string such as "5s", got integer 200; durations are strings such as "200ms" (if 200 meant milliseconds)`},
		{"idle table", db("[databases.orders.idle]\nmax_age = \"5m\"\n"),
			"config: unknown key \"databases.orders.idle\"; did you mean `idle_max_age` (flat key)? fedsaga's key is databases.orders.idle_max_age: " +
				`write idle_max_age = "5m" in the database's own table`},
		{"inline nkey", minimal + "[nats.auth]\ntype = \"nkey\"\nnkey = \"SUAxxxx\"\nnkey_seed_file = \"/run/seed\"\n",
			"config: unknown key \"nats.auth.nkey\"; did you mean `nkey_seed_file`? fedsaga's key is nats.auth.nkey_seed_file: fedsaga reads the NKey seed from a file, never inline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			_, err := Load(writeConfig(t, tt.file))
			got := errorList(err)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), tt.want)
			}
			if strings.Contains(strings.Join(got, ""), "SUAxxxx") {
				t.Error("the error quotes the inline seed")
			}
		})
	}
}

// TestAliasesAreUnknownKeys: every alias names a key fedsaga has, and is
// itself no key of fedsaga's (it would never be reported).
func TestAliasesAreUnknownKeys(t *testing.T) {
	for typ, table := range aliases {
		for k, a := range table {
			if fieldType(typ, a.key) == nil {
				t.Errorf("%s: alias %q names %q, which is no key of it", typ, k, a.key)
			}
			if fieldType(typ, k) != nil {
				t.Errorf("%s: alias %q is a key of fedsaga's", typ, k)
			}
		}
	}
}
