package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/fedsaga/fedsaga/config"
)

// KeyError is a key of the configuration that cannot be read or has the
// wrong form. Key names the configuration key, such as codec.keys.k1.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s: %v; a key is %d random bytes, base64 (head -c %d /dev/urandom | base64) or raw in a file", e.Key, e.Err, KeySize, KeySize)
}

func (e *KeyError) Unwrap() error { return e.Err }

// ReadKey reads the key src points at: the file's content (32 raw bytes, or
// base64 of 32 bytes with spaces and line ends around it) or the
// environment variable's (base64). Key is the configuration key, for
// errors; they never hold the key itself.
func ReadKey(key string, src config.KeySource) ([]byte, error) {
	var text []byte
	switch {
	case src.File != "":
		b, err := os.ReadFile(src.File)
		if err != nil {
			return nil, &KeyError{Key: key + ".file", Err: err}
		}
		if len(b) == KeySize {
			return b, nil
		}
		text, key = b, key+".file"
	case src.Env != "":
		v, ok := os.LookupEnv(src.Env)
		if !ok {
			return nil, &KeyError{Key: key + ".env", Err: fmt.Errorf("environment variable %s is not set", src.Env)}
		}
		text, key = []byte(v), key+".env"
	default:
		return nil, &KeyError{Key: key, Err: errors.New("set file or env")}
	}
	k, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	switch {
	case err != nil:
		return nil, &KeyError{Key: key, Err: errors.New("not base64 (standard alphabet), nor 32 raw bytes")}
	case len(k) != KeySize:
		return nil, &KeyError{Key: key, Err: fmt.Errorf("base64 of %d bytes, want %d", len(k), KeySize)}
	}
	return k, nil
}

// Load reads the keyring of the configuration and returns its Codec: it
// encrypts with codec.active_key when codec.enabled, and decrypts with
// every key of codec.keys. It returns nil, and no error, when codec.keys is
// empty: payloads stay as they are.
func Load(cfg config.Codec) (*Codec, error) {
	if len(cfg.Keys) == 0 {
		return nil, nil
	}
	keys := make(map[string][]byte, len(cfg.Keys))
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(cfg.Keys)) {
		k, err := ReadKey("codec.keys."+id, cfg.Keys[id])
		errs = append(errs, err)
		keys[id] = k
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	active := ""
	if cfg.Enabled {
		active = cfg.ActiveKey
	}
	return New(active, keys)
}
