package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLoadReadAPI: [federation.api] from the file, tokens through ${VAR}
// and from a comma-separated environment variable, never printed.
func TestLoadReadAPI(t *testing.T) {
	isolate(t)
	t.Setenv("FS_TEST_API_TOKEN", "tok-from-file-0123456789")
	c, err := Load(writeConfig(t, minimal+`
[federation.api]
tokens = ["${FS_TEST_API_TOKEN}", "second-token-0123456789"]
metrics_address = ""
max_ids = 20
max_id_length = 64
read_timeout = "2s"
idle_timeout = "3s"
write_timeout = "4s"
[federation.api.graphql]
introspection = true
max_depth = 7
max_cost = 900
[federation.api.tls]
cert_file = "server.pem"
key_file = "server-key.pem"
client_ca_file = "clients.pem"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := ReadAPI{Auth: APIAuthRequired, Tokens: []Secret{"tok-from-file-0123456789", "second-token-0123456789"},
		TLS:    APITLS{CertFile: "server.pem", KeyFile: "server-key.pem", ClientCAFile: "clients.pem"},
		MaxIDs: 20, MaxIDLength: 64, ReadTimeout: 2 * time.Second, IdleTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second,
		GraphQL: GraphQL{Introspection: true, MaxDepth: 7, MaxCost: 900}}
	if !reflect.DeepEqual(c.Federation.API, want) {
		t.Errorf("federation.api =\n%+v\nwant\n%+v", c.Federation.API, want)
	}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "0123456789") || !strings.Contains(out.String(), "tokens = ['[REDACTED]', '[REDACTED]']") {
		t.Errorf("config print shows or drops the tokens:\n%s", out.String())
	}

	t.Setenv("FEDSAGA_FEDERATION__API__TOKENS", "env-token-a-0123456789, env-token-b-0123456789")
	c, err = Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Federation.API.Tokens; !reflect.DeepEqual(got, []Secret{"env-token-a-0123456789", "env-token-b-0123456789"}) {
		t.Errorf("tokens from FEDSAGA_FEDERATION__API__TOKENS = %q", got)
	}
}

func TestValidateReadAPI(t *testing.T) {
	tests := []struct {
		name   string
		change func(a *ReadAPI)
		want   []string
	}{
		{"defaults", func(a *ReadAPI) {}, nil},
		{"none", func(a *ReadAPI) { a.Auth = APIAuthNone }, nil},
		{"unknown auth", func(a *ReadAPI) { a.Auth = "token" },
			[]string{`config: federation.api.auth: "token" is not one of required, none`}},
		{"none with tokens", func(a *ReadAPI) { a.Auth, a.Tokens = APIAuthNone, []Secret{"a-long-enough-token-123"} },
			[]string{`config: federation.api.auth: is "none", but tokens or tls.client_ca_file are set; remove them, or set auth = "required"`}},
		{"short and spaced tokens", func(a *ReadAPI) { a.Tokens = []Secret{"short", "has a space in it, long enough"} },
			[]string{
				"config: federation.api.tokens[0]: want at least 16 characters without spaces or control characters (e.g. `openssl rand -hex 32`)",
				"config: federation.api.tokens[1]: want at least 16 characters without spaces or control characters (e.g. `openssl rand -hex 32`)",
			}},
		{"client CA without TLS", func(a *ReadAPI) { a.TLS.ClientCAFile = "ca.pem" },
			[]string{"config: federation.api.tls.client_ca_file: needs federation.api.tls.cert_file and key_file: client certificates travel over TLS"}},
		{"cert without key", func(a *ReadAPI) { a.TLS.CertFile = "c.pem" },
			[]string{"config: federation.api.tls.cert_file: set federation.api.tls.cert_file and federation.api.tls.key_file together (both or neither)"}},
		{"metrics on the API address", func(a *ReadAPI) { a.MetricsAddress = "127.0.0.1:8080" },
			[]string{`config: federation.api.metrics_address: must differ from federation.http_address ("127.0.0.1:8080"): /metrics has a listener of its own`}},
		{"bad metrics address", func(a *ReadAPI) { a.MetricsAddress = "9465" },
			[]string{`config: federation.api.metrics_address: want host:port (e.g. "127.0.0.1:9465") or "" to turn it off, got "9465"`}},
		{"limits", func(a *ReadAPI) { a.MaxIDs, a.MaxIDLength = 0, 5000 },
			[]string{"config: federation.api.max_ids: must be from 1 to 10000, got 0", "config: federation.api.max_id_length: must be from 1 to 1024, got 5000"}},
		{"graphql limits", func(a *ReadAPI) { a.GraphQL.MaxDepth, a.GraphQL.MaxCost = 0, 2000000 },
			[]string{"config: federation.api.graphql.max_depth: must be from 1 to 100, got 0", "config: federation.api.graphql.max_cost: must be from 1 to 1000000, got 2000000"}},
		{"timeouts", func(a *ReadAPI) { a.ReadTimeout, a.IdleTimeout, a.WriteTimeout = 0, -time.Second, 0 },
			[]string{"config: federation.api.read_timeout: must be more than 0s, got 0s", "config: federation.api.idle_timeout: must be more than 0s, got -1s",
				"config: federation.api.write_timeout: must be more than 0s, got 0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v validator
			a := Default().Federation.API
			tc.change(&a)
			v.readAPI("federation.api", a, Default().Federation.HTTPAddress)
			var got []string
			for _, e := range v.errs {
				got = append(got, e.Error())
			}
			if !sameProblems(got, tc.want) {
				t.Errorf("problems\n%q\nwant\n%q", got, tc.want)
			}
			for _, g := range got {
				if strings.Contains(g, "token-123") || strings.Contains(g, "has a space") {
					t.Errorf("a problem quotes a token: %s", g)
				}
			}
		})
	}
}
