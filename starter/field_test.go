package starter_test

import (
	"fmt"
	"slices"
	"testing"

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
