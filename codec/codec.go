// Package codec encrypts the payloads fedsaga hands to Temporal: a
// converter.PayloadCodec with AES-256-GCM and a keyring, so that a
// workflow's history holds ciphertext and the key id that decrypts it. Keys
// rotate by adding a key and making it active; payloads encrypted with an
// older key still decrypt while the keyring holds it. Handler serves the
// codec to the Temporal Web UI and CLI (Temporal's codec server protocol).
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// Encoding is the "encoding" metadata value of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID is the metadata key that holds the id of the key that
	// encrypted the payload.
	MetadataKeyID = "encryption-key-id"
	// KeySize is the size of a key in bytes (AES-256).
	KeySize = 32
)

// Codec encrypts payloads with its active key and decrypts them with the
// key their metadata names. It is safe for concurrent use.
type Codec struct {
	active string
	aeads  map[string]cipher.AEAD
}

// New returns a Codec with the keyring keys (key id to 32-byte key).
// Active names the key that encrypts; with active "" Encode leaves payloads
// as they are and the Codec only decrypts.
func New(active string, keys map[string][]byte) (*Codec, error) {
	c := &Codec{active: active, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		key := keys[id]
		if len(key) != KeySize {
			return nil, fmt.Errorf("key %q: want %d bytes (AES-256), got %d", id, KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		if c.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
	}
	if _, ok := c.aeads[active]; active != "" && !ok {
		return nil, &UnknownKeyError{KeyID: active, Known: c.KeyIDs()}
	}
	return c, nil
}

// KeyIDs returns the ids of the keyring, sorted.
func (c *Codec) KeyIDs() []string { return slices.Sorted(maps.Keys(c.aeads)) }

// Active returns the id of the key that encrypts, "" when none does.
func (c *Codec) Active() string { return c.active }

// Encode encrypts each payload, metadata included, with the active key:
// the result's metadata holds only Encoding and the key id, its data the
// nonce and the ciphertext. The key id is authenticated too.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if c.active == "" {
		return payloads, nil
	}
	aead := c.aeads[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.active),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload with the key its metadata names;
// payloads that are not encrypted (written before encryption was turned
// on) pass unchanged. A key id missing from the keyring is an
// *UnknownKeyError; a payload that does not decrypt is a *DecryptError.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, &UnknownKeyError{KeyID: id, Known: c.KeyIDs()}
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, &DecryptError{KeyID: id, Err: errors.New("payload shorter than a nonce")}
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, &DecryptError{KeyID: id, Err: err}
		}
		out[i] = &commonpb.Payload{}
		if err := proto.Unmarshal(plain, out[i]); err != nil {
			return nil, &DecryptError{KeyID: id, Err: err}
		}
	}
	return out, nil
}

// UnknownKeyError is a payload, or an active key, whose key id the keyring
// does not hold.
type UnknownKeyError struct {
	KeyID string
	Known []string // the keyring's ids
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("codec: payload encrypted with key %q, which is not in the keyring (codec.keys holds: %s); add [codec.keys.%s] back with its file or env",
		e.KeyID, strings.Join(e.Known, ", "), e.KeyID)
}

// DecryptError is an encrypted payload that its key does not open: the key
// under that id changed, or the payload was altered.
type DecryptError struct {
	KeyID string
	Err   error
}

func (e *DecryptError) Error() string {
	return fmt.Sprintf("codec: payload does not decrypt with key %q (was codec.keys.%s replaced by another key?): %v", e.KeyID, e.KeyID, e.Err)
}

func (e *DecryptError) Unwrap() error { return e.Err }

// DataConverter returns Temporal's default data converter with c applied
// to every payload.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter returns a failure converter that moves failure messages
// and stack traces into an encoded payload (Temporal's
// EncodeCommonAttributes), so dc encrypts them as well.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true,
	})
}
