package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
)

// Codec encrypts the payloads fedsaga hands to Temporal (workflow and
// activity inputs and results, failure messages, summaries) with
// AES-256-GCM, and serves them decoded to the Temporal Web UI and CLI
// (`fedsaga codec-server`). It also decides what the CustomerId search
// attribute holds, since search attributes are never encrypted.
//
// A key is 32 random bytes, written base64 (standard alphabet) in a file or
// an environment variable, or raw in a file of exactly 32 bytes:
//
//	head -c 32 /dev/urandom | base64 > orders-2026.key
type Codec struct {
	// Enabled encrypts with the active key in every client and worker
	// fedsaga makes. Payloads without fedsaga's encryption metadata still
	// decode, so switching it on affects only new payloads. Default false:
	// a configuration without keys stores payloads in plaintext; the local
	// configuration (fedsaga.toml) turns it on with a development key.
	Enabled bool `koanf:"enabled"`
	// ActiveKey is the id of the key that encrypts; it names an entry of
	// keys. Required when enabled. Default "".
	ActiveKey string `koanf:"active_key"`
	// Keys is the keyring, by key id (letters, digits, "_" and "-", up to
	// 64): the active key and the retired ones, which still decrypt the
	// payloads they encrypted. Rotate by adding a key and making it active;
	// remove a key only when no history needs it. Default none.
	Keys map[string]KeySource `koanf:"keys"`
	// CustomerIDAttribute is what the CustomerId search attribute holds:
	// "hash" (HMAC-SHA256 of the customer id with customer_id_key, hex),
	// "plain" (the customer id) or "none" (left out). `fedsaga saga list
	// --customer` searches the same way. Default "plain".
	CustomerIDAttribute string `koanf:"customer_id_attribute"`
	// CustomerIDKey is the HMAC key of customer_id_attribute = "hash", in
	// the format of the payload keys. Default none.
	CustomerIDKey KeySource `koanf:"customer_id_key"`
	// HTTPAddress is where `fedsaga codec-server` listens. Default
	// "127.0.0.1:8234".
	HTTPAddress string `koanf:"http_address"`
	// CORSOrigins are the Web UI origins (scheme://host:port) whose
	// browsers may call the codec server. Default ["http://localhost:8233"],
	// the local Web UI.
	CORSOrigins []string `koanf:"cors_origins"`
	// AuthToken, when set, is the bearer token every /encode and /decode
	// request must carry ("Authorization: Bearer <token>"). Without it the
	// codec server listens only on a loopback address, unless
	// allow_unauthenticated. Never printed. Default "".
	AuthToken Secret `koanf:"auth_token"`
	// AllowUnauthenticated lets the codec server run without auth_token on
	// an address that is not loopback: only behind a port published on
	// loopback (docker-compose) or a proxy that authenticates. Default false.
	AllowUnauthenticated bool `koanf:"allow_unauthenticated"`
}

// KeySource says where a key is: a file, or an environment variable.
// Set one of the two.
type KeySource struct {
	File string `koanf:"file"` // a file holding the key, base64 or 32 raw bytes.
	Env  string `koanf:"env"`  // the name of an environment variable holding the key, base64.
}

// Values of codec.customer_id_attribute.
const (
	CustomerIDHash  = "hash"
	CustomerIDPlain = "plain"
	CustomerIDNone  = "none"
)

// DefaultCodec returns the defaults of [codec].
func DefaultCodec() Codec {
	return Codec{
		Keys:                map[string]KeySource{},
		CustomerIDAttribute: CustomerIDPlain,
		HTTPAddress:         "127.0.0.1:8234",
		CORSOrigins:         []string{"http://localhost:8233"},
	}
}

// keyID is the form of a key id: it goes into every payload's metadata.
var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// codec checks [codec].
func (v *validator) codec(c Codec) {
	for _, id := range slices.Sorted(maps.Keys(c.Keys)) {
		key := "codec.keys." + id
		v.want(keyID.MatchString(id), key, "invalid key id %q; use 1 to 64 letters, digits, \"_\" or \"-\"", id)
		v.keySource(key, c.Keys[id])
	}
	_, active := c.Keys[c.ActiveKey]
	switch {
	case c.Enabled && c.ActiveKey == "":
		v.want(false, "codec.active_key", "required when codec.enabled is true; name a key of [codec.keys]")
	case c.ActiveKey != "" && !active:
		v.want(false, "codec.active_key", "%q is not a key of [codec.keys] (configured: %s); add [codec.keys.%s] with a file or env",
			c.ActiveKey, keyList(c.Keys), c.ActiveKey)
	}
	v.oneOf("codec.customer_id_attribute", c.CustomerIDAttribute, CustomerIDHash, CustomerIDPlain, CustomerIDNone)
	if c.CustomerIDAttribute == CustomerIDHash || c.CustomerIDKey != (KeySource{}) {
		v.keySource("codec.customer_id_key", c.CustomerIDKey)
	}
	v.hostPort("codec.http_address", c.HTTPAddress, `want host:port (e.g. "127.0.0.1:8234"), got %q`)
	v.notEmpty("codec.http_address", c.HTTPAddress)
	for i, o := range c.CORSOrigins {
		u, err := url.Parse(o)
		v.want(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" && u.RawQuery == ""),
			fmt.Sprintf("codec.cors_origins[%d]", i), "want an origin such as \"http://localhost:8233\" (scheme, host, port; no path), got %q", o)
	}
	host, _, err := net.SplitHostPort(c.HTTPAddress)
	loopback := err == nil && (host == "localhost" || net.ParseIP(host).IsLoopback())
	v.want(c.AuthToken != "" || c.AllowUnauthenticated || loopback || err != nil, "codec.auth_token",
		"required when codec.http_address (%s) is not a loopback address; or set codec.allow_unauthenticated behind a proxy that authenticates", c.HTTPAddress)
}

// keySource checks that a key names a file or a variable, not both.
func (v *validator) keySource(key string, k KeySource) {
	v.want((k.File == "") != (k.Env == ""), key, "set file or env (one of them), got %s", describeKey(k))
}

func describeKey(k KeySource) string {
	switch {
	case k.File == "" && k.Env == "":
		return "neither"
	case k.File != "" && k.Env != "":
		return "both"
	}
	return "one"
}

func keyList(keys map[string]KeySource) string {
	if len(keys) == 0 {
		return "none"
	}
	return fmt.Sprint(slices.Sorted(maps.Keys(keys)))
}
