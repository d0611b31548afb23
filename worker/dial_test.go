package worker

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	tclient "go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/codec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/tlstest"
)

// TestClientOptions: the API key becomes the SDK's API key credentials and
// turns TLS on; the TLS files become the TLS configuration.
func TestClientOptions(t *testing.T) {
	ca := tlstest.NewCA(t, "temporal CA")
	client := ca.Client(t, "fedsaga", time.Now().Add(time.Hour))

	opts, err := ClientOptions(withTemporal(config.Temporal{Address: "127.0.0.1:7233", Namespace: "default"}), zerolog.Nop())
	if err != nil || opts.HostPort != "127.0.0.1:7233" || opts.Namespace != "default" ||
		opts.Credentials != nil || opts.ConnectionOptions.TLS != nil {
		t.Errorf("plain: %+v, %v; want no credentials, no TLS", opts, err)
	}

	if opts.ConnectionOptions.GrpcCompression != nil {
		t.Errorf("gzip: GrpcCompression %T, want nil (the SDK's gzip)", opts.ConnectionOptions.GrpcCompression)
	}
	opts, err = ClientOptions(withTemporal(config.Temporal{GRPCCompression: config.CompressionNone}), zerolog.Nop())
	if _, ok := opts.ConnectionOptions.GrpcCompression.(*tclient.GrpcCompressionNone); err != nil || !ok {
		t.Errorf("none: GrpcCompression %T, %v; want GrpcCompressionNone", opts.ConnectionOptions.GrpcCompression, err)
	}

	opts, err = ClientOptions(withTemporal(config.Temporal{Address: "ns.acct.tmprl.cloud:7233", APIKey: "k"}), zerolog.Nop())
	if err != nil || opts.Credentials == nil || opts.ConnectionOptions.TLS == nil {
		t.Errorf("API key: %+v, %v; want credentials and TLS", opts, err)
	}
	opts, err = ClientOptions(withTemporal(config.Temporal{APIKey: "k", TLS: config.TemporalTLS{Disabled: true}}), zerolog.Nop())
	if err != nil || opts.Credentials == nil || opts.ConnectionOptions.TLS != nil || !opts.ConnectionOptions.TLSDisabled {
		t.Errorf("API key, TLS disabled: %+v, %v; want credentials, TLS off", opts, err)
	}

	opts, err = ClientOptions(withTemporal(config.Temporal{TLS: config.TemporalTLS{
		CAFile: ca.File(t), CertFile: client.CertFile, KeyFile: client.KeyFile, ServerName: "temporal.internal",
	}}), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	tc := opts.ConnectionOptions.TLS
	if tc == nil || tc.ServerName != "temporal.internal" || len(tc.Certificates) != 1 || tc.RootCAs == nil ||
		!tc.RootCAs.Equal(ca.Pool()) {
		t.Errorf("mutual TLS: %+v; want the CA, the client certificate and the server name", tc)
	}
}

// TestClientOptionsBadFiles: every TLS file that cannot serve fails before
// dialling, with an error naming its key.
func TestClientOptionsBadFiles(t *testing.T) {
	ca := tlstest.NewCA(t, "temporal CA")
	other := tlstest.NewCA(t, "other CA")
	good := ca.Client(t, "fedsaga", time.Now().Add(time.Hour))
	otherLeaf := other.Client(t, "other", time.Now().Add(time.Hour))
	expired := ca.Client(t, "expired", time.Now().Add(-time.Minute))
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing.pem")

	for _, tc := range []struct {
		name string
		tls  config.TemporalTLS
		key  string
		says string
	}{
		{"CA file missing", config.TemporalTLS{CAFile: missing}, "temporal.tls.ca_file", "no such file"},
		{"CA file not PEM", config.TemporalTLS{CAFile: garbage}, "temporal.tls.ca_file", "no PEM certificate"},
		{"certificate missing", config.TemporalTLS{CertFile: missing, KeyFile: good.KeyFile}, "temporal.tls.cert_file", "no such file"},
		{"certificate not PEM", config.TemporalTLS{CertFile: garbage, KeyFile: good.KeyFile}, "temporal.tls.cert_file", "certificate"},
		{"key missing", config.TemporalTLS{CertFile: good.CertFile, KeyFile: missing}, "temporal.tls.key_file", "no such file"},
		{"key of another certificate", config.TemporalTLS{CertFile: good.CertFile, KeyFile: otherLeaf.KeyFile}, "temporal.tls.key_file", "does not match"},
		{"certificate expired", config.TemporalTLS{CertFile: expired.CertFile, KeyFile: expired.KeyFile}, "temporal.tls.cert_file", "expired"},
	} {
		_, err := ClientOptions(withTemporal(config.Temporal{Address: "t:7233", Namespace: "ns", TLS: tc.tls}), zerolog.Nop())
		var te *TemporalError
		if !errors.As(err, &te) || te.Key != tc.key || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want a TemporalError naming %s and saying %q", tc.name, err, tc.key, tc.says)
		}
		if _, err := DialTemporal(context.Background(), withTemporal(config.Temporal{Address: "t:7233", TLS: tc.tls}), zerolog.Nop()); !errors.As(err, &te) || te.Key != tc.key {
			t.Errorf("%s: DialTemporal: %v; want the same error", tc.name, err)
		}
	}
}

// TestDialTemporalNamesAddress: nothing listening is the address's fault.
func TestDialTemporalNamesAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := DialTemporal(ctx, withTemporal(config.Temporal{Address: "127.0.0.1:1", Namespace: "default"}), zerolog.Nop())
	var te *TemporalError
	if !errors.As(err, &te) || te.Key != "temporal.address" || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("nothing listening: %v; want a TemporalError naming temporal.address", err)
	}
}

func TestSearchAttributeErrorCommands(t *testing.T) {
	e := &SearchAttributeError{Namespace: "prod.acct", Missing: []string{"OrderId"},
		WrongType: map[string]enums.IndexedValueType{"SagaStep": enums.INDEXED_VALUE_TYPE_INT}}
	want := []string{
		"temporal operator search-attribute remove --namespace prod.acct --name SagaStep --yes",
		"temporal operator search-attribute create --namespace prod.acct --name OrderId --type Keyword",
		"temporal operator search-attribute create --namespace prod.acct --name SagaStep --type Keyword",
	}
	if got := e.Commands(); !slices.Equal(got, want) {
		t.Errorf("Commands() = %q\nwant %q", got, want)
	}
	msg := e.Error()
	for _, s := range append(want, "lacks the search attributes OrderId", "has SagaStep of type Int, not Keyword") {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
}

// withTemporal is a configuration with t and no [codec] keys.
func withTemporal(t config.Temporal) *config.Config { return &config.Config{Temporal: t} }

// TestClientOptionsCodec: with keys in [codec], every client encodes its
// payloads and failures with the keyring; a key that cannot be read fails
// before dialling, naming its key.
func TestClientOptionsCodec(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k1.key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600)
	cfg := withTemporal(config.Temporal{Address: "127.0.0.1:7233", Namespace: "default"})

	opts, err := ClientOptions(cfg, zerolog.Nop())
	if err != nil || opts.DataConverter != nil || opts.FailureConverter != nil {
		t.Errorf("no keys: %v, data converter %v; want the SDK's defaults", err, opts.DataConverter)
	}

	cfg.Codec = config.Codec{Enabled: true, ActiveKey: "k1", Keys: map[string]config.KeySource{"k1": {File: keyFile}}}
	opts, err = ClientOptions(cfg, zerolog.Nop())
	if err != nil || opts.DataConverter == nil || opts.FailureConverter == nil {
		t.Fatalf("keys: %v; want a data and a failure converter", err)
	}
	p, err := opts.DataConverter.ToPayload("cust-secret")
	if err != nil || string(p.GetMetadata()["encoding"]) != codec.Encoding || strings.Contains(string(p.GetData()), "cust-secret") {
		t.Errorf("payload %v, %v; want it encrypted", p, err)
	}
	f := opts.FailureConverter.ErrorToFailure(errors.New("cust-secret has no funds"))
	if strings.Contains(f.GetMessage(), "cust-secret") || string(f.GetEncodedAttributes().GetMetadata()["encoding"]) != codec.Encoding {
		t.Errorf("failure %v; want its message encrypted", f)
	}

	cfg.Codec.Keys["k1"] = config.KeySource{File: filepath.Join(dir, "missing.key")}
	_, err = ClientOptions(cfg, zerolog.Nop())
	var ke *codec.KeyError
	if !errors.As(err, &ke) || ke.Key != "codec.keys.k1.file" {
		t.Errorf("missing key file: %v; want a codec.KeyError naming codec.keys.k1.file", err)
	}
}
