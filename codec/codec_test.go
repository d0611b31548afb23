package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/fedsaga/fedsaga/config"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func payload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEncodeDecode: an encoded payload holds neither the data nor its
// metadata, names its key, and decodes to the original.
func TestEncodeDecode(t *testing.T) {
	c, err := New("k1", map[string][]byte{"k1": newKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	in := []*commonpb.Payload{payload(t, map[string]string{"customer_id": "cust-4711"}), payload(t, nil)}
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range enc {
		if string(p.Metadata["encoding"]) != Encoding || string(p.Metadata[MetadataKeyID]) != "k1" || len(p.Metadata) != 2 {
			t.Errorf("payload %d metadata %q; want only encoding %s and key id k1", i, p.Metadata, Encoding)
		}
		if bytes.Contains(p.Data, []byte("cust-4711")) || bytes.Contains(p.Data, []byte("json/plain")) {
			t.Errorf("payload %d holds plaintext: %q", i, p.Data)
		}
	}
	again, _ := c.Encode(in[:1])
	if bytes.Equal(again[0].Data, enc[0].Data) {
		t.Error("two encodings of one payload are equal: the nonce is not fresh")
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(dec[i], in[i]) {
			t.Errorf("payload %d decoded to %v, want %v", i, dec[i], in[i])
		}
	}
	// A payload that was never encrypted passes unchanged.
	if plain, err := c.Decode(in); err != nil || !proto.Equal(plain[0], in[0]) {
		t.Errorf("plaintext payload: %v, %v; want it unchanged", plain, err)
	}
}

// TestRotation: after a new key becomes active, payloads of the old one
// still decrypt; once the old key leaves the keyring, decoding them is an
// UnknownKeyError naming the key id.
func TestRotation(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	c1, _ := New("k1", map[string][]byte{"k1": k1})
	old, err := c1.Encode([]*commonpb.Payload{payload(t, "cust-1")})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := New("k2", map[string][]byte{"k1": k1, "k2": k2})
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := c2.Encode([]*commonpb.Payload{payload(t, "cust-2")})
	if id := string(fresh[0].Metadata[MetadataKeyID]); id != "k2" {
		t.Errorf("new payload key id %q, want k2", id)
	}
	for name, p := range map[string]*commonpb.Payload{"k1 payload": old[0], "k2 payload": fresh[0]} {
		if _, err := c2.Decode([]*commonpb.Payload{p}); err != nil {
			t.Errorf("%s with k1 and k2: %v", name, err)
		}
	}
	c3, _ := New("k2", map[string][]byte{"k2": k2})
	_, err = c3.Decode(old)
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.KeyID != "k1" || !strings.Contains(err.Error(), `"k1"`) || !strings.Contains(err.Error(), "codec.keys.k1") {
		t.Errorf("k1 removed: %v; want an UnknownKeyError naming k1", err)
	}
	// Another key under the same id, or altered data, does not decrypt.
	c4, _ := New("k1", map[string][]byte{"k1": k2})
	var de *DecryptError
	if _, err := c4.Decode(old); !errors.As(err, &de) || de.KeyID != "k1" {
		t.Errorf("other key under id k1: %v; want a DecryptError", err)
	}
	tampered := proto.Clone(old[0]).(*commonpb.Payload)
	tampered.Metadata[MetadataKeyID] = []byte("k2")
	if _, err := c2.Decode([]*commonpb.Payload{tampered}); !errors.As(err, &de) {
		t.Errorf("key id changed: %v; want a DecryptError (the key id is authenticated)", err)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New("k1", map[string][]byte{"k1": make([]byte, 16)}); err == nil || !strings.Contains(err.Error(), "want 32 bytes") {
		t.Errorf("16-byte key: %v", err)
	}
	var uk *UnknownKeyError
	if _, err := New("k9", map[string][]byte{"k1": newKey(t)}); !errors.As(err, &uk) || uk.KeyID != "k9" {
		t.Errorf("active key not in the keyring: %v", err)
	}
	// Without an active key, Encode leaves payloads alone.
	c, _ := New("", map[string][]byte{"k1": newKey(t)})
	p := payload(t, "x")
	if out, err := c.Encode([]*commonpb.Payload{p}); err != nil || out[0] != p {
		t.Errorf("no active key: %v, %v", out, err)
	}
}

// TestReadKey: keys come base64 or raw from files, base64 from the
// environment; errors name the configuration key and never the key.
func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b64 := base64.StdEncoding.EncodeToString(key)
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Setenv("FEDSAGA_TEST_KEY", b64)
	t.Setenv("FEDSAGA_TEST_SHORT", base64.StdEncoding.EncodeToString(key[:16]))
	for _, src := range []config.KeySource{{File: write("b64", []byte(b64+"\n"))}, {File: write("raw", key)}, {Env: "FEDSAGA_TEST_KEY"}} {
		if got, err := ReadKey("codec.keys.k", src); err != nil || !bytes.Equal(got, key) {
			t.Errorf("%+v: %v", src, err)
		}
	}
	for _, tc := range []struct {
		src       config.KeySource
		key, says string
	}{
		{config.KeySource{File: filepath.Join(dir, "missing")}, "codec.keys.k.file", "no such file"},
		{config.KeySource{File: write("text", []byte("not a key at all, not base64!"))}, "codec.keys.k.file", "not base64"},
		{config.KeySource{Env: "FEDSAGA_TEST_UNSET"}, "codec.keys.k.env", "FEDSAGA_TEST_UNSET is not set"},
		{config.KeySource{Env: "FEDSAGA_TEST_SHORT"}, "codec.keys.k.env", "base64 of 16 bytes, want 32"},
	} {
		_, err := ReadKey("codec.keys.k", tc.src)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != tc.key || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%+v: %v; want a KeyError naming %s saying %q", tc.src, err, tc.key, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), b64[:16]) {
			t.Errorf("%+v: error shows the key: %v", tc.src, err)
		}
	}
}

// TestLoad: the configuration's keyring encrypts with the active key only
// when codec.enabled; without keys there is no codec.
func TestLoad(t *testing.T) {
	t.Setenv("FEDSAGA_TEST_K1", base64.StdEncoding.EncodeToString(newKey(t)))
	cfg := config.Codec{ActiveKey: "k1", Keys: map[string]config.KeySource{"k1": {Env: "FEDSAGA_TEST_K1"}}}
	if c, err := Load(cfg); err != nil || c.Active() != "" || len(c.KeyIDs()) != 1 {
		t.Errorf("disabled: %v, %v; want a codec that only decrypts", c, err)
	}
	cfg.Enabled = true
	if c, err := Load(cfg); err != nil || c.Active() != "k1" {
		t.Errorf("enabled: %v, %v; want k1 active", c, err)
	}
	if c, err := Load(config.Codec{}); c != nil || err != nil {
		t.Errorf("no keys: %v, %v; want none", c, err)
	}
}
