package test

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
)

// The barrier, on the real databases: activities called directly, as a
// retried, duplicated or late delivery would call them.

func newActivities(t *testing.T) *activities.Activities {
	t.Helper()
	a, err := activities.New(stack.DBs, stack.Config.Federation, stack.JetStream)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func testOrder(t *testing.T, customer string, p product, qty int) spec.Order {
	id := uniq(t, "ord")
	return spec.Order{
		SagaID: "saga-" + id, OrderID: id, CustomerID: customer,
		Lines:      []spec.Line{{ProductID: p.ID, SKU: p.SKU, Name: "x", Quantity: qty, PriceCents: p.PriceCents}},
		TotalCents: p.PriceCents * int64(qty),
	}
}

func TestBarrierDuplicateActionsChangeNothing(t *testing.T) {
	s, a, ctx := stack, newActivities(t), context.Background()
	p := s.addProduct(t, 300, 10)
	customer := s.addCustomer(t, 10_000)
	o := testOrder(t, customer, p, 4)

	for range 3 {
		for i, step := range []func(context.Context, spec.Order) error{
			a.CreateOrder, a.ReserveInventory, a.ChargePayment, a.ConfirmOrder,
		} {
			if err := step(ctx, o); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
	if got := s.stock(t, p); got != 6 {
		t.Errorf("stock = %d after three deliveries, want 10-4 = 6", got)
	}
	if got := s.balance(t, customer); got != 10_000-1200 {
		t.Errorf("balance = %d after three deliveries, want charged once", got)
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1`, o.OrderID); got != 1 {
		t.Errorf("outbox rows = %d, want 1", got)
	}

	// Duplicate compensations undo once.
	for range 3 {
		if err := a.RefundPayment(ctx, o); err != nil {
			t.Fatal(err)
		}
		if err := a.ReleaseInventory(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d after three releases, want 10", got)
	}
	if got := s.balance(t, customer); got != 10_000 {
		t.Errorf("balance = %d after three refunds, want 10000", got)
	}
}

func TestBarrierCompensationBeforeActionBlocksIt(t *testing.T) {
	s, a, ctx := stack, newActivities(t), context.Background()
	p := s.addProduct(t, 300, 10)
	customer := s.addCustomer(t, 10_000)
	o := testOrder(t, customer, p, 4)

	// The compensations arrive first (the actions' responses were late):
	// null compensations.
	o.Reason = "test: compensated first"
	for name, comp := range map[string]func(context.Context, spec.Order) error{
		"cancel": a.CancelOrder, "release": a.ReleaseInventory, "refund": a.RefundPayment,
	} {
		if err := comp(ctx, o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Then the late actions: each must change nothing.
	for name, step := range map[string]func(context.Context, spec.Order) error{
		"create": a.CreateOrder, "reserve": a.ReserveInventory, "charge": a.ChargePayment, "confirm": a.ConfirmOrder,
	} {
		if err := step(ctx, o); err != nil {
			t.Fatalf("late %s: %v", name, err)
		}
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d, want 10: a late reserve changed it", got)
	}
	if got := s.balance(t, customer); got != 10_000 {
		t.Errorf("balance = %d, want 10000: a late charge changed it", got)
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_order WHERE id = $1`, o.OrderID); got != 0 {
		t.Errorf("a late create stored the order")
	}
	if got := s.scalar(t, "orders", `SELECT event_type FROM tb_outbox WHERE order_id = $1`, o.OrderID); got != events.TypeCancelled {
		t.Errorf("outbox event = %v, want order.cancelled only", got)
	}
}

func TestBarrierCancelBlocksLateConfirm(t *testing.T) {
	// The pivot: the confirm times out, the saga cancels the order, then
	// the late confirm arrives. The order must stay cancelled.
	s, a, ctx := stack, newActivities(t), context.Background()
	p := s.addProduct(t, 300, 10)
	customer := s.addCustomer(t, 10_000)
	o := testOrder(t, customer, p, 1)

	if err := a.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	res, err := a.VoidConfirm(ctx, o)
	if err != nil || res.Confirmed {
		t.Fatalf("void confirm: %+v, %v", res, err)
	}
	if err := a.CancelOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := a.ConfirmOrder(ctx, o); err != nil {
		t.Fatalf("late confirm: %v", err)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, o.OrderID); got != "cancelled" {
		t.Errorf("order status = %v after a late confirm, want cancelled", got)
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1 AND event_type = $2`, o.OrderID, events.TypeConfirmed); got != 0 {
		t.Errorf("a late confirm wrote an order.confirmed event")
	}

	// And a confirm that did commit is reported by VoidConfirm.
	o2 := testOrder(t, customer, p, 1)
	if err := a.CreateOrder(ctx, o2); err != nil {
		t.Fatal(err)
	}
	if err := a.ConfirmOrder(ctx, o2); err != nil {
		t.Fatal(err)
	}
	res, err = a.VoidConfirm(ctx, o2)
	if err != nil || !res.Confirmed {
		t.Errorf("void confirm after commit: %+v, %v; want confirmed", res, err)
	}
}

func TestBusinessFailuresAreNonRetryable(t *testing.T) {
	s, a, ctx := stack, newActivities(t), context.Background()
	p := s.addProduct(t, 300, 2)
	poor := s.addCustomer(t, 100)

	nonRetryable := func(err error, errType string) bool {
		var app *temporal.ApplicationError
		return errors.As(err, &app) && app.NonRetryable() && app.Type() == errType
	}
	o := testOrder(t, poor, p, 5)
	if err := a.ReserveInventory(ctx, o); !nonRetryable(err, spec.ErrOutOfStock) {
		t.Errorf("reserve beyond stock: %v, want non-retryable %s", err, spec.ErrOutOfStock)
	}
	o = testOrder(t, poor, p, 1)
	if err := a.ChargePayment(ctx, o); !nonRetryable(err, spec.ErrInsufficientFunds) {
		t.Errorf("charge beyond balance: %v, want non-retryable %s", err, spec.ErrInsufficientFunds)
	}
	if _, err := a.Validate(ctx, spec.ValidateInput{OrderID: "x", CustomerID: "ghost", Items: []spec.Item{{SKU: "GHOST", Quantity: 1}}}); !nonRetryable(err, spec.ErrForeignKey) {
		t.Errorf("validate unknown ids: %v, want non-retryable %s", err, spec.ErrForeignKey)
	}
	if got := s.stock(t, p); got != 2 {
		t.Errorf("stock = %d, want 2", got)
	}
	if got := s.balance(t, poor); got != 100 {
		t.Errorf("balance = %d, want 100", got)
	}
}
