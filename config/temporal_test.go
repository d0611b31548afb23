package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadTemporalFromSDKEnvironment: the TEMPORAL_* variables fill the
// [temporal] keys that fedsaga's own configuration leaves unset.
func TestLoadTemporalFromSDKEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("TEMPORAL_ADDRESS", "ns1.acct.tmprl.cloud:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "ns1.acct")
	t.Setenv("TEMPORAL_API_KEY", "key-${not-a-reference}")
	c, err := Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Temporal{Address: "ns1.acct.tmprl.cloud:7233", Namespace: "ns1.acct", TaskQueue: "fedsaga-orders",
		APIKey: "key-${not-a-reference}", ManageSearchAttributes: true, GRPCCompression: CompressionGzip}
	if c.Temporal != want {
		t.Errorf("temporal = %#v\nwant %#v", c.Temporal, want)
	}
	if !c.Temporal.UseTLS() {
		t.Error("an API key from TEMPORAL_API_KEY leaves TLS off; the SDK turns it on")
	}
}

// TestLoadTemporalFedsagaKeysWin: a key that the file or a FEDSAGA_
// variable sets wins over TEMPORAL_* and the profile, key by key.
func TestLoadTemporalFedsagaKeysWin(t *testing.T) {
	isolate(t)
	t.Setenv("TEMPORAL_ADDRESS", "env:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "env-ns")
	t.Setenv("TEMPORAL_API_KEY", "env-key")
	t.Setenv("FEDSAGA_TEMPORAL__API_KEY", "fedsaga-key")
	c, err := Load(writeConfig(t, minimal+"[temporal]\naddress = \"file:7233\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Temporal; got.Address != "file:7233" || got.Namespace != "env-ns" || got.APIKey.Value() != "fedsaga-key" {
		t.Errorf("temporal = address %q, namespace %q, api_key %q; want file:7233, env-ns (TEMPORAL_NAMESPACE), fedsaga-key",
			got.Address, got.Namespace, got.APIKey.Value())
	}

	// A fedsaga key set to its default value still wins: it is set.
	c, err = Load(writeConfig(t, minimal+"[temporal]\naddress = \"127.0.0.1:7233\"\nnamespace = \"default\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Address != "127.0.0.1:7233" || c.Temporal.Namespace != "default" {
		t.Errorf("keys set to the defaults lost to TEMPORAL_*: %+v", c.Temporal)
	}
}

// TestLoadTemporalProfile: the profile file of TEMPORAL_CONFIG_FILE and
// TEMPORAL_PROFILE, TEMPORAL_* over it, fedsaga's keys over both; the
// client certificate and key go as a pair, and so do enabled and disabled.
func TestLoadTemporalProfile(t *testing.T) {
	isolate(t)
	profile := filepath.Join(t.TempDir(), "temporal.toml")
	os.WriteFile(profile, []byte(`
[profile.default]
address = "default-profile:7233"

[profile.prod]
address = "prod:7233"
namespace = "prod-ns"
[profile.prod.tls]
client_cert_path = "/prod/client.pem"
client_key_path = "/prod/client.key"
server_ca_cert_path = "/prod/ca.pem"
server_name = "prod.internal"
`), 0o600)
	t.Setenv(EnvTemporalConfigFile, profile)
	t.Setenv(EnvTemporalProfile, "prod")
	t.Setenv("TEMPORAL_NAMESPACE", "env-ns")

	c, err := Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := TemporalTLS{Enabled: true, CAFile: "/prod/ca.pem", CertFile: "/prod/client.pem", KeyFile: "/prod/client.key", ServerName: "prod.internal"}
	if c.Temporal.Address != "prod:7233" || c.Temporal.Namespace != "env-ns" || c.Temporal.TLS != want {
		t.Errorf("temporal = %+v\nwant address prod:7233, namespace env-ns, tls %+v", c.Temporal, want)
	}

	c, err = Load(writeConfig(t, minimal+`
[temporal.tls]
cert_file = "/fedsaga/client.pem"
key_file = "/fedsaga/client.key"
disabled = true
`))
	if err != nil {
		t.Fatal(err)
	}
	want = TemporalTLS{Disabled: true, CAFile: "/prod/ca.pem", CertFile: "/fedsaga/client.pem", KeyFile: "/fedsaga/client.key", ServerName: "prod.internal"}
	if c.Temporal.TLS != want || c.Temporal.UseTLS() {
		t.Errorf("temporal.tls = %+v (TLS %v)\nwant %+v, TLS off", c.Temporal.TLS, c.Temporal.UseTLS(), want)
	}

	// Only the key of the pair in fedsaga's file: the profile's certificate
	// does not join it, and the error names the key to set.
	_, err = Load(writeConfig(t, minimal+"[temporal.tls]\nkey_file = \"/fedsaga/client.key\"\n"))
	if got := errorList(err); len(got) != 1 || !strings.Contains(got[0], "temporal.tls.cert_file") {
		t.Errorf("key_file alone: %q; want one error naming temporal.tls.cert_file", got)
	}

	t.Setenv(EnvTemporalProfile, "staging")
	_, err = Load(writeConfig(t, minimal))
	if got := errorList(err); len(got) != 1 || !strings.Contains(got[0], `"staging"`) || !strings.Contains(got[0], profile) {
		t.Errorf("missing profile: %q; want one error naming the profile and the file", got)
	}
}

// TestLoadTemporalTLSSwitch: TEMPORAL_TLS=false turns TLS off even with an
// API key from TEMPORAL_API_KEY, as in the SDK, but never the TLS that
// fedsaga's own api_key or TLS keys turn on; an error names the variable
// that set the value.
func TestLoadTemporalTLSSwitch(t *testing.T) {
	isolate(t)
	t.Setenv("TEMPORAL_TLS", "false")
	t.Setenv("TEMPORAL_API_KEY", "env-key")
	c, err := Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Temporal.TLS.Disabled || c.Temporal.UseTLS() {
		t.Errorf("TEMPORAL_TLS=false with TEMPORAL_API_KEY: tls = %+v, TLS %v; want disabled", c.Temporal.TLS, c.Temporal.UseTLS())
	}
	for _, file := range []string{"[temporal]\napi_key = \"k\"\n", "[temporal.tls]\nserver_name = \"temporal.example\"\n"} {
		c, err = Load(writeConfig(t, minimal+file))
		if err != nil {
			t.Fatal(err)
		}
		if c.Temporal.TLS.Disabled || !c.Temporal.UseTLS() {
			t.Errorf("TEMPORAL_TLS=false with %q in fedsaga's file: tls = %+v, TLS %v; want on (the API key must not go out in plaintext)",
				file, c.Temporal.TLS, c.Temporal.UseTLS())
		}
	}
	t.Setenv("TEMPORAL_API_KEY", "")

	t.Setenv("TEMPORAL_TLS", "true")
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", "/c.pem")
	_, err = Load(writeConfig(t, minimal))
	got := errorList(err)
	if len(got) != 1 || !strings.Contains(got[0], "temporal.tls.cert_file") || !strings.Contains(got[0], "TEMPORAL_TLS_CLIENT_CERT_PATH") {
		t.Errorf("certificate without key: %q; want the key and the variable named", got)
	}

	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", "")
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_DATA", "-----BEGIN CERTIFICATE-----")
	_, err = Load(writeConfig(t, minimal))
	if got := errorList(err); len(got) != 1 || !strings.Contains(got[0], "TEMPORAL_TLS_CLIENT_CERT_DATA") ||
		!strings.Contains(got[0], "temporal.tls.cert_file") {
		t.Errorf("PEM data in a variable: %q; want it refused, naming the variable and temporal.tls.cert_file", got)
	}
}

// TestTemporalAPIKeyNotShown: the API key, from ${NAME} or TEMPORAL_API_KEY,
// never appears in Print, fmt or an error.
func TestTemporalAPIKeyNotShown(t *testing.T) {
	const key = "tmprl-key-5e4d3c2b1a"
	for _, tc := range []struct{ name, file, env string }{
		{"file ${NAME}", "[temporal]\napi_key = \"${FS_TEST_API_KEY}\"\n", "FS_TEST_API_KEY"},
		{"TEMPORAL_API_KEY", "", "TEMPORAL_API_KEY"},
		{"FEDSAGA_TEMPORAL__API_KEY", "", "FEDSAGA_TEMPORAL__API_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			t.Setenv(tc.env, key)
			c, err := Load(writeConfig(t, minimal+tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if c.Temporal.APIKey.Value() != key {
				t.Fatalf("api_key = %q", c.Temporal.APIKey.Value())
			}
			var b bytes.Buffer
			if err := c.Print(&b); err != nil {
				t.Fatal(err)
			}
			for what, text := range map[string]string{"Print": b.String(), "%+v": fmt.Sprintf("%+v %#v", c, c.Temporal)} {
				if strings.Contains(text, key) || !strings.Contains(text, "[REDACTED]") {
					t.Errorf("%s shows the key or no [REDACTED]:\n%s", what, text)
				}
			}
			t.Setenv("FEDSAGA_TEMPORAL__TLS__CERT_FILE", "c.pem") // an error beside the key
			_, err = Load(writeConfig(t, minimal+tc.file))
			if err == nil || strings.Contains(err.Error(), key) {
				t.Errorf("error %v: want one, without the key", err)
			}
		})
	}
}

func TestTemporalUseTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Temporal
		want bool
	}{
		{"nothing", Temporal{}, false},
		{"api key", Temporal{APIKey: "k"}, true},
		{"api key, disabled", Temporal{APIKey: "k", TLS: TemporalTLS{Disabled: true}}, false},
		{"enabled", Temporal{TLS: TemporalTLS{Enabled: true}}, true},
		{"ca file", Temporal{TLS: TemporalTLS{CAFile: "ca.pem"}}, true},
		{"client certificate", Temporal{TLS: TemporalTLS{CertFile: "c.pem", KeyFile: "k.pem"}}, true},
		{"server name", Temporal{TLS: TemporalTLS{ServerName: "t.internal"}}, true},
		{"ca file, disabled", Temporal{TLS: TemporalTLS{CAFile: "ca.pem", Disabled: true}}, false},
	} {
		if got := tc.cfg.UseTLS(); got != tc.want {
			t.Errorf("%s: UseTLS() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidateTemporalTLS(t *testing.T) {
	isolate(t)
	_, err := Load(writeConfig(t, minimal+"[temporal.tls]\nenabled = true\ndisabled = true\ncert_file = \"c.pem\"\n"))
	got := problemKeys(err)
	if want := []string{"temporal.tls.cert_file", "temporal.tls.enabled"}; !sameProblems(got, want) {
		t.Errorf("problems at %q, want %q", got, want)
	}
}
