package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCodec(t *testing.T) {
	ring := map[string]KeySource{"k1": {File: "k1.key"}, "k2": {Env: "K2"}}
	for _, tc := range []struct {
		name string
		set  func(c *Codec)
		want []string // "key: message part"
	}{
		{"defaults", func(c *Codec) {}, nil},
		{"enabled with a keyring", func(c *Codec) { c.Enabled, c.ActiveKey, c.Keys = true, "k2", ring }, nil},
		{"enabled without a key", func(c *Codec) { c.Enabled = true },
			[]string{"codec.active_key: required when codec.enabled is true"}},
		{"active key not in the ring", func(c *Codec) { c.Enabled, c.ActiveKey, c.Keys = true, "k3", ring },
			[]string{`codec.active_key: "k3" is not a key of [codec.keys] (configured: [k1 k2]); add [codec.keys.k3]`}},
		{"key with neither or both", func(c *Codec) {
			c.Keys = map[string]KeySource{"a": {}, "b": {File: "f", Env: "E"}, "bad.id": {File: "f"}}
		}, []string{"codec.keys.a: set file or env (one of them), got neither", "codec.keys.b: set file or env (one of them), got both",
			`codec.keys.bad.id: invalid key id "bad.id"`}},
		{"hash without a key", func(c *Codec) { c.CustomerIDAttribute = CustomerIDHash },
			[]string{"codec.customer_id_key: set file or env"}},
		{"unknown attribute mode", func(c *Codec) { c.CustomerIDAttribute = "hmac" },
			[]string{`codec.customer_id_attribute: "hmac" is not one of hash, plain, none`}},
		{"origin with a path", func(c *Codec) { c.CORSOrigins = []string{"http://localhost:8233/", "localhost:8233"} },
			[]string{`codec.cors_origins[0]: want an origin`, `codec.cors_origins[1]: want an origin`}},
		{"open on all interfaces", func(c *Codec) { c.HTTPAddress = ":8234" },
			[]string{"codec.auth_token: required when codec.http_address (:8234) is not a loopback address"}},
		{"token on all interfaces", func(c *Codec) { c.HTTPAddress, c.AuthToken = "0.0.0.0:8234", "t" }, nil},
		{"unauthenticated allowed", func(c *Codec) { c.HTTPAddress, c.AllowUnauthenticated = "0.0.0.0:8234", true }, nil},
		{"empty address", func(c *Codec) { c.HTTPAddress = "" }, []string{"codec.http_address: must not be empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.set(&c.Codec)
			errs := validate(c)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to hold %q", i, got[i], w)
				}
			}
		})
	}
}

// TestLoadCodec: [codec] and its keyring load from the file and the
// environment; the token is never printed.
func TestLoadCodec(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fedsaga.toml")
	toml := minimal + `
[codec]
enabled = true
active_key = "k2"
customer_id_attribute = "hash"
customer_id_key = { env = "CUSTOMER_KEY" }
auth_token = "${CODEC_TOKEN}"
[codec.keys.k1]
file = "k1.key"
[codec.keys.k2]
env = "K2"
`
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CODEC_TOKEN", "tok-s3cret")
	t.Setenv("FEDSAGA_CODEC__CORS_ORIGINS", "http://localhost:8233,https://ui.example.com")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Codec
	if !got.Enabled || got.ActiveKey != "k2" || got.Keys["k1"].File != "k1.key" || got.Keys["k2"].Env != "K2" ||
		got.CustomerIDKey.Env != "CUSTOMER_KEY" || got.AuthToken.Value() != "tok-s3cret" || len(got.CORSOrigins) != 2 {
		t.Errorf("codec = %+v", got)
	}
	var b strings.Builder
	if err := c.Print(&b); err != nil || strings.Contains(b.String(), "tok-s3cret") || !strings.Contains(b.String(), "[codec.keys.k2]") {
		t.Errorf("config print: %v\n%s", err, b.String())
	}
}
