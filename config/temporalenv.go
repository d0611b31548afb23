package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/knadh/koanf/v2"
	"go.temporal.io/sdk/contrib/envconfig"
)

// The Temporal SDK's environment configuration that names the profile file
// and the profile in it.
const (
	EnvTemporalConfigFile = "TEMPORAL_CONFIG_FILE"
	EnvTemporalProfile    = "TEMPORAL_PROFILE"
)

// temporalValue is one value of the Temporal SDK's environment
// configuration: the key it sets and the variable that may have given it.
type temporalValue struct {
	key, env string
	value    any
}

// loadTemporalEnv sets the [temporal] keys that the Temporal SDK's
// environment configuration gives (go.temporal.io/sdk/contrib/envconfig:
// the TEMPORAL_* variables over a profile of the TEMPORAL_CONFIG_FILE) and
// that the file and the FEDSAGA_ variables, whose keys explicit holds, leave
// unset: so they rank above the defaults and below fedsaga's own keys. The
// client certificate and key, and enabled and disabled, go as pairs: when
// fedsaga sets one of a pair, the SDK's configuration sets neither. It
// returns, for each key it set, where the value came from.
// tlsImplying are the keys that turn TLS on when set (Temporal.UseTLS).
var tlsImplying = []string{"temporal.api_key", "temporal.tls.ca_file", "temporal.tls.cert_file", "temporal.tls.key_file", "temporal.tls.server_name"}

func loadTemporalEnv(ko *koanf.Koanf, explicit func(key string) bool) (map[string]string, []*Error) {
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{})
	source := temporalProfileSource()
	if err != nil {
		return nil, []*Error{{Key: "temporal", Err: fmt.Errorf("read the Temporal environment configuration (%s): %w", source, err)}}
	}
	var errs []*Error
	unsupported := func(what, env, instead string) {
		errs = append(errs, &Error{Key: "temporal", Source: origin(env, source),
			Err: fmt.Errorf("%s is not supported by fedsaga; %s", what, instead)})
	}
	values := []temporalValue{
		{"temporal.address", "TEMPORAL_ADDRESS", prof.Address},
		{"temporal.namespace", "TEMPORAL_NAMESPACE", prof.Namespace},
		{"temporal.api_key", "TEMPORAL_API_KEY", prof.APIKey},
	}
	if t := prof.TLS; t != nil {
		on := temporalValue{"temporal.tls.enabled", "TEMPORAL_TLS", true}
		if t.Disabled {
			on = temporalValue{"temporal.tls.disabled", "TEMPORAL_TLS", true}
		}
		values = append(values, on,
			temporalValue{"temporal.tls.ca_file", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", t.ServerCACertPath},
			temporalValue{"temporal.tls.cert_file", "TEMPORAL_TLS_CLIENT_CERT_PATH", t.ClientCertPath},
			temporalValue{"temporal.tls.key_file", "TEMPORAL_TLS_CLIENT_KEY_PATH", t.ClientKeyPath},
			temporalValue{"temporal.tls.server_name", "TEMPORAL_TLS_SERVER_NAME", t.ServerName})
		for _, d := range []struct {
			data        []byte
			env, ofPath string
		}{
			{t.ServerCACertData, "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH or temporal.tls.ca_file"},
			{t.ClientCertData, "TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_CERT_PATH or temporal.tls.cert_file"},
			{t.ClientKeyData, "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_CLIENT_KEY_PATH or temporal.tls.key_file"},
		} {
			if len(d.data) > 0 {
				unsupported("PEM data in "+d.env, d.env, "write it to a file and set "+d.ofPath)
			}
		}
		if t.DisableHostVerification {
			unsupported("TLS without host verification", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
				"set temporal.tls.server_name to a name the server's certificate holds")
		}
	}
	if prof.Authority != "" {
		unsupported("an :authority override", "TEMPORAL_CLIENT_AUTHORITY", "unset it")
	}
	if len(prof.GRPCMeta) > 0 {
		unsupported("gRPC metadata (TEMPORAL_GRPC_META_*)", "", "unset it; for an API key set temporal.api_key")
	}
	pairs := [][]string{{"temporal.tls.enabled", "temporal.tls.disabled"}, {"temporal.tls.cert_file", "temporal.tls.key_file"}}
	origins := map[string]string{}
	for _, v := range values {
		pair := []string{v.key}
		if i := slices.IndexFunc(pairs, func(p []string) bool { return slices.Contains(p, v.key) }); i >= 0 {
			pair = pairs[i]
		}
		if s, ok := v.value.(string); (ok && s == "") || slices.ContainsFunc(pair, explicit) {
			continue
		}
		// TLS that fedsaga's own keys turn on (an API key, a TLS file or
		// name) is never turned off from a lower source: the key would go
		// out in plaintext.
		if v.key == "temporal.tls.disabled" && slices.ContainsFunc(tlsImplying, explicit) {
			continue
		}
		if s, ok := v.value.(string); ok {
			v.value = strings.ReplaceAll(s, "${", "$${") // a value, not a template
		}
		if err := ko.Set(v.key, v.value); err != nil {
			errs = append(errs, &Error{Key: v.key, Err: err})
		}
		origins[v.key] = origin(v.env, source)
	}
	return origins, errs
}

// origin names where a value of the SDK's environment configuration came
// from: the variable env when it is set, else the profile.
func origin(env, profile string) string {
	if _, ok := os.LookupEnv(env); ok && env != "" {
		return env
	}
	return profile
}

// temporalProfileSource names the profile that the SDK's environment
// configuration reads, as envconfig chooses it.
func temporalProfileSource() string {
	file := os.Getenv(EnvTemporalConfigFile)
	if file == "" {
		file = envconfig.DefaultConfigFilePath()
	}
	profile := os.Getenv(EnvTemporalProfile)
	if profile == "" {
		profile = envconfig.DefaultConfigFileProfile
	}
	return fmt.Sprintf("Temporal profile %q of %s", profile, file)
}
