package workflows

import "testing"

// TestStartSearchAttributesCustomer: CustomerId holds the customer id when
// the input has no CustomerAttribute (sagas started before it existed),
// the attribute's value when set, and is left out when it is "".
func TestStartSearchAttributesCustomer(t *testing.T) {
	hash, none := "5435c411", ""
	for _, tc := range []struct {
		attr *string
		want string
		ok   bool
	}{{nil, "c-1", true}, {&hash, hash, true}, {&none, "", false}} {
		in := PlaceOrderInput{OrderID: "o-1", CustomerID: "c-1", CustomerAttribute: tc.attr}
		got, ok := StartSearchAttributes(in).GetKeyword(CustomerIDKey)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CustomerAttribute %v: CustomerId %q %v, want %q %v", tc.attr, got, ok, tc.want, tc.ok)
		}
		if id, _ := StartSearchAttributes(in).GetKeyword(OrderIDKey); id != "o-1" {
			t.Errorf("OrderId %q, want o-1", id)
		}
	}
}
