package starter_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/starter"
)

func TestFieldErrorsNamesEveryField(t *testing.T) {
	req := starter.Request{OrderID: "a.b", Items: []starter.Item{{SKU: "", Quantity: 0}}}
	err := fmt.Errorf("invalid order: %w", req.Validate())
	var fields []string
	for _, fe := range starter.FieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	want := []string{"order_id", "customer_id", "items[0].sku", "items[0].quantity"}
	if !slices.Equal(fields, want) {
		t.Errorf("FieldErrors(%q) fields = %q, want %q", err, fields, want)
	}
	if got := starter.FieldErrors(nil); got != nil {
		t.Errorf("FieldErrors(nil) = %v, want nil", got)
	}
}

// TestRequestLimits: each limit of an order is refused with a FieldError
// naming the field and wrapping the limit; the largest valid order passes.
func TestRequestLimits(t *testing.T) {
	valid := func() starter.Request {
		return starter.Request{OrderID: "ord-1", CustomerID: "alice@example.com", Items: []starter.Item{{SKU: "WIDGET", Quantity: 1}}}
	}
	many := func(n, qty int, sameSKU bool) []starter.Item {
		items := make([]starter.Item, n)
		for i := range items {
			items[i] = starter.Item{SKU: fmt.Sprintf("SKU-%d", i), Quantity: qty}
			if sameSKU {
				items[i].SKU = "WIDGET"
			}
		}
		return items
	}
	for _, tc := range []struct {
		name  string
		edit  func(*starter.Request)
		field string
		limit error
	}{
		{"quantity 2^32+1", func(r *starter.Request) { r.Items[0].Quantity = 4294967297 }, "items[0].quantity", spec.ErrQuantity},
		{"quantity above the maximum", func(r *starter.Request) { r.Items[0].Quantity = starter.MaxQuantity + 1 }, "items[0].quantity", spec.ErrQuantity},
		{"negative quantity", func(r *starter.Request) { r.Items[0].Quantity = -1 }, "items[0].quantity", spec.ErrQuantity},
		{"2000 items", func(r *starter.Request) { r.Items = many(2000, 1, false) }, "items", spec.ErrItemCount},
		{"no items", func(r *starter.Request) { r.Items = nil }, "items", spec.ErrItemCount},
		{"one SKU adds up above the maximum", func(r *starter.Request) { r.Items = many(2, starter.MaxQuantity, true) }, "items", spec.ErrQuantity},
		{"customer id too long", func(r *starter.Request) { r.CustomerID = strings.Repeat("a", 65) }, "customer_id", spec.ErrCustomerID},
		{"customer id with a space", func(r *starter.Request) { r.CustomerID = "alice smith" }, "customer_id", spec.ErrCustomerID},
		{"customer id with a NUL", func(r *starter.Request) { r.CustomerID = "alice\x00" }, "customer_id", spec.ErrCustomerID},
		{"customer id with a quote", func(r *starter.Request) { r.CustomerID = `alice"` }, "customer_id", spec.ErrCustomerID},
		{"empty customer id", func(r *starter.Request) { r.CustomerID = "" }, "customer_id", spec.ErrRequired},
		{"order id with a dot", func(r *starter.Request) { r.OrderID = "ord.1" }, "order_id", spec.ErrOrderID},
		{"order id too long", func(r *starter.Request) { r.OrderID = strings.Repeat("o", 65) }, "order_id", spec.ErrOrderID},
		{"SKU with a slash", func(r *starter.Request) { r.Items[0].SKU = "W/1" }, "items[0].sku", spec.ErrSKU},
		{"SKU too long", func(r *starter.Request) { r.Items[0].SKU = strings.Repeat("W", 65) }, "items[0].sku", spec.ErrSKU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := valid()
			tc.edit(&req)
			err := req.Validate()
			fes := starter.FieldErrors(err)
			if len(fes) != 1 || fes[0].Field != tc.field || !errors.Is(err, tc.limit) {
				t.Fatalf("Validate() = %v; want one FieldError on %s wrapping %q", err, tc.field, tc.limit)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error of %d bytes: the value is echoed uncut", len(err.Error()))
			}
		})
	}
	largest := starter.Request{
		OrderID: strings.Repeat("o", 64), CustomerID: strings.Repeat("c", 64), Items: many(starter.MaxItems, starter.MaxQuantity, false),
	}
	if err := largest.Validate(); err != nil {
		t.Errorf("the largest valid order: %v", err)
	}
}
