package starter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/activities/spec"
)

func TestFilterQuery(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		f    Filter
		want string // the query, or a part of the error
		err  bool
	}{
		{"all", Filter{}, "WorkflowType = 'PlaceOrder'", false},
		{"status", Filter{Status: "compensating"}, "WorkflowType = 'PlaceOrder' AND SagaStatus = 'compensating'", false},
		{"stuck", Filter{Stuck: true, OlderThan: 10 * time.Minute},
			"WorkflowType = 'PlaceOrder' AND ExecutionStatus = 'Running' AND " +
				"(SagaStatus = 'running' OR SagaStatus = 'compensating' OR SagaStatus = 'compensation_failed') AND " +
				"StartTime < '2026-12-02T09:50:00Z'", false},
		{"unknown status", Filter{Status: "done"}, `status "done": want one of running, compensating, compensation_failed, completed, compensated`, true},
		{"stuck without age", Filter{Stuck: true}, "older-than: want a positive duration", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.Query(now)
			switch {
			case tc.err && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Query() = %q, %v; want an error with %q", got, err, tc.want)
			case !tc.err && (err != nil || got != tc.want):
				t.Errorf("Query() = %q, %v;\nwant %q", got, err, tc.want)
			}
		})
	}
}

func TestParseItem(t *testing.T) {
	for in, want := range map[string]Item{
		"WIDGET=2":          {SKU: "WIDGET", Quantity: 2},
		" GADGET =1":        {SKU: "GADGET", Quantity: 1},
		"GIZMO-LTD=1000000": {SKU: "GIZMO-LTD", Quantity: MaxQuantity},
	} {
		if got, err := ParseItem(in); err != nil || got != want {
			t.Errorf("ParseItem(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		"WIDGET":                       nil,
		"=2":                           nil,
		"WIDGET=0":                     spec.ErrQuantity,
		"WIDGET=x":                     spec.ErrQuantity,
		"WIDGET=-1":                    spec.ErrQuantity,
		"WIDGET=1000001":               spec.ErrQuantity,
		"WIDGET=4294967297":            spec.ErrQuantity, // 2^32+1: int32(n) would be 1
		"WIDGET=99999999999999999999":  spec.ErrQuantity,
		"WID GET=1":                    spec.ErrSKU,
		strings.Repeat("W", 65) + "=1": spec.ErrSKU,
	} {
		_, err := ParseItem(in)
		switch {
		case err == nil:
			t.Errorf("ParseItem(%q) accepted", in)
		case want == nil && !strings.Contains(err.Error(), "want SKU=QTY"):
			t.Errorf("ParseItem(%q): %v; want \"want SKU=QTY\"", in, err)
		case want != nil && !errors.Is(err, want):
			t.Errorf("ParseItem(%q): %v; want %v", in, err, want)
		}
	}
}

// TestPlaceOrderRefusesInvalidInput: invalid input starts nothing (the nil
// client is never called) and every bad field is named.
func TestPlaceOrderRefusesInvalidInput(t *testing.T) {
	_, err := PlaceOrder(context.Background(), nil, Request{OrderID: "bad id", Items: []Item{{SKU: "", Quantity: 0}}})
	if err == nil {
		t.Fatal("invalid order accepted")
	}
	for _, field := range []string{"invalid order", "order_id", "customer_id", "items[0].sku", "items[0].quantity"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func TestNewOrderIDIsValid(t *testing.T) {
	a, b := NewOrderID(), NewOrderID()
	if a == b {
		t.Errorf("NewOrderID returned %s twice", a)
	}
	req := Request{OrderID: a, CustomerID: "alice", Items: []Item{{SKU: "WIDGET", Quantity: 1}}}
	if err := req.Validate(); err != nil {
		t.Errorf("NewOrderID() = %s: %v", a, err)
	}
}

func TestStaticSummary(t *testing.T) {
	got := summary(Request{OrderID: "ord-1", CustomerID: "alice", Items: []Item{{SKU: "WIDGET", Quantity: 2}, {SKU: "GADGET", Quantity: 1}}})
	if want := "order ord-1 for alice: 2×WIDGET, 1×GADGET"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
}

func TestErrorsName(t *testing.T) {
	if err := sagaErr("ord-1", nil); err != nil {
		t.Errorf("sagaErr(nil) = %v", err)
	}
	cause := errors.New("connection refused")
	if err := sagaErr("ord-1", cause); !errors.Is(err, cause) || !strings.Contains(err.Error(), "order-ord-1") {
		t.Errorf("sagaErr = %v: want the cause wrapped, naming the workflow", err)
	}
}
