package starter

import (
	"strings"
	"testing"
	"time"
)

func TestCustomerAttribute(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	// Computed independently with OpenSSL:
	// printf alice | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
	const aliceHash = "433deb45467e4e53dbaba594c88bc3a200f705a2150788c3d11e6040e63e8510"
	for _, tc := range []struct {
		a      CustomerAttribute
		value  string
		ok     bool
		errHas string
	}{
		{CustomerAttribute{}, "alice", true, ""},
		{CustomerAttribute{Mode: CustomerPlain}, "alice", true, ""},
		{CustomerAttribute{Mode: CustomerNone}, "", false, ""},
		{CustomerAttribute{Mode: CustomerHash, Key: key}, aliceHash, true, ""},
		{CustomerAttribute{Mode: CustomerHash}, "", false, "no HMAC key"},
		{CustomerAttribute{Mode: "hmac"}, "", false, `"hmac": want plain, hash or none`},
	} {
		v, ok, err := tc.a.Value("alice")
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%+v: %v; want an error saying %q", tc.a, err, tc.errHas)
			}
			continue
		}
		if err != nil || ok != tc.ok || v != tc.value {
			t.Errorf("%+v: %q %v %v; want %q %v", tc.a, v, ok, err, tc.value, tc.ok)
		}
		if tc.a.Mode == CustomerHash && (len(v) != 64 || strings.Contains(v, "alice")) {
			t.Errorf("hash %q; want 64 hex digits", v)
		}
	}
	// The hash is keyed: another key, another value; same key, same value.
	a1, _, _ := CustomerAttribute{Mode: CustomerHash, Key: key}.Value("alice")
	a2, _, _ := CustomerAttribute{Mode: CustomerHash, Key: key}.Value("alice")
	b, _, _ := CustomerAttribute{Mode: CustomerHash, Key: []byte("another key")}.Value("alice")
	if a1 != a2 || a1 == b {
		t.Errorf("hash not a keyed function of the id: %s %s %s", a1, a2, b)
	}
}

// TestFilterCustomer: --customer searches CustomerId as the starters
// store it.
func TestFilterCustomer(t *testing.T) {
	key := []byte("k")
	hash, _, _ := CustomerAttribute{Mode: CustomerHash, Key: key}.Value("alice")
	for _, tc := range []struct {
		f      Filter
		want   string
		errHas string
	}{
		{Filter{Customer: "alice"}, "CustomerId = 'alice'", ""},
		{Filter{Customer: "alice", CustomerAttribute: CustomerAttribute{Mode: CustomerHash, Key: key}}, "CustomerId = '" + hash + "'", ""},
		{Filter{Customer: "alice", CustomerAttribute: CustomerAttribute{Mode: CustomerNone}}, "", "no CustomerId search attribute"},
		{Filter{Customer: "o'brien"}, "", "quotes"},
	} {
		q, err := tc.f.Query(time.Now())
		switch {
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("%+v: %v; want an error saying %q", tc.f, err, tc.errHas)
		case tc.errHas == "" && (err != nil || !strings.Contains(q, tc.want) || strings.Contains(q, "alice") && tc.f.CustomerAttribute.Mode == CustomerHash):
			t.Errorf("%+v: %q, %v; want it to hold %q", tc.f, q, err, tc.want)
		}
	}
}
