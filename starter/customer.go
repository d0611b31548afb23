package starter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// What the CustomerId search attribute holds (CustomerAttribute.Mode),
// as the configuration's codec.customer_id_attribute names them.
const (
	CustomerPlain = "plain" // the customer id
	CustomerHash  = "hash"  // HMAC-SHA256 of the customer id, lower-case hex
	CustomerNone  = "none"  // no CustomerId attribute
)

// CustomerAttribute says what the CustomerId search attribute of a saga
// holds. Temporal stores search attributes unencrypted, even with payload
// encryption on: a keyed hash lets operators find a customer's sagas
// without the customer id being readable in the visibility store.
type CustomerAttribute struct {
	Mode string // CustomerPlain (also ""), CustomerHash or CustomerNone
	Key  []byte // the HMAC key of CustomerHash
}

// Value returns what the attribute holds for customerID; ok is false when
// it is left out (CustomerNone).
func (a CustomerAttribute) Value(customerID string) (value string, ok bool, err error) {
	switch a.Mode {
	case "", CustomerPlain:
		return customerID, true, nil
	case CustomerNone:
		return "", false, nil
	case CustomerHash:
		if len(a.Key) == 0 {
			return "", false, errors.New("customer attribute hash: no HMAC key (codec.customer_id_key)")
		}
		mac := hmac.New(sha256.New, a.Key)
		mac.Write([]byte(customerID))
		return hex.EncodeToString(mac.Sum(nil)), true, nil
	}
	return "", false, fmt.Errorf("customer attribute mode %q: want %s, %s or %s", a.Mode, CustomerPlain, CustomerHash, CustomerNone)
}
