package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Limits of an order. The command line (--item, --customer, --order-id),
// the starter, the workflow's input check and the activities enforce the
// same limits with the same messages, from the checks below.
//
// Quantities are stored in integer (int32) columns (tb_order_item.quantity,
// tb_reservation.quantity, tb_product.stock). MaxQuantity bounds one SKU's
// quantity in an order, also when several items name the same SKU, so a
// line always fits its column.
const (
	// MaxQuantity is the largest quantity of one SKU in an order.
	MaxQuantity = 1_000_000
	// MaxItems is the largest number of items in an order.
	MaxItems = 100
	// MaxIDLength is the longest order id, customer id or SKU, in bytes.
	MaxIDLength = 64
)

// ErrInvalidInput is the error type of an order the saga refuses before
// any step runs, and of a step's input outside the limits: non-retryable.
const ErrInvalidInput = "InvalidInput"

// The problems the checks report: each says what is allowed. Test with
// errors.Is.
var (
	ErrQuantity   = fmt.Errorf("want an integer from 1 to %d", MaxQuantity)
	ErrItemCount  = fmt.Errorf("want 1 to %d items", MaxItems)
	ErrOrderID    = fmt.Errorf("want 1 to %d characters of A-Z, a-z, 0-9, '_' or '-'", MaxIDLength)
	ErrCustomerID = fmt.Errorf("want 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '@' or '-'", MaxIDLength)
	ErrSKU        = fmt.Errorf("want 1 to %d characters of A-Z, a-z, 0-9, '.', '_' or '-'", MaxIDLength)
	// ErrRequired is the problem of an empty id.
	ErrRequired = errors.New("required")
)

// Order ids become workflow ids, search attributes and a token of the
// event's NATS subject: no '.', which separates subject tokens. Customer
// ids and SKUs become search attributes, summaries and log fields.
var (
	orderIDPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	customerIDPattern = regexp.MustCompile(`^[A-Za-z0-9._@-]+$`)
	skuPattern        = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// CheckQuantity returns ErrQuantity unless 1 <= n <= MaxQuantity.
func CheckQuantity(n int) error {
	if n < 1 || n > MaxQuantity {
		return ErrQuantity
	}
	return nil
}

// CheckItemCount returns ErrItemCount unless 1 <= n <= MaxItems.
func CheckItemCount(n int) error {
	if n < 1 || n > MaxItems {
		return ErrItemCount
	}
	return nil
}

// CheckOrderID returns ErrRequired for an empty order id and ErrOrderID
// for one that breaks the rule.
func CheckOrderID(s string) error { return checkID(s, orderIDPattern, ErrOrderID) }

// CheckCustomerID returns ErrRequired for an empty customer id and
// ErrCustomerID for one that breaks the rule.
func CheckCustomerID(s string) error { return checkID(s, customerIDPattern, ErrCustomerID) }

// CheckSKU returns ErrRequired for an empty SKU and ErrSKU for one that
// breaks the rule.
func CheckSKU(s string) error { return checkID(s, skuPattern, ErrSKU) }

func checkID(s string, pattern *regexp.Regexp, rule error) error {
	switch {
	case s == "":
		return ErrRequired
	case len(s) > MaxIDLength || !pattern.MatchString(s):
		return rule
	}
	return nil
}

// Quote prints a value for an error message: quoted, and cut after
// MaxIDLength bytes, so that an error never echoes a huge input.
func Quote(s string) string {
	if len(s) > MaxIDLength {
		return strconv.Quote(s[:MaxIDLength]) + "..."
	}
	return strconv.Quote(s)
}
