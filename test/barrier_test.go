package test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
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

// forwardStep is a forward step's activity.
type forwardStep = func(context.Context, spec.Order) (spec.StepResult, error)

func TestBarrierDuplicateActionsChangeNothing(t *testing.T) {
	s, a, ctx := stack, newActivities(t), context.Background()
	p := s.addProduct(t, 300, 10)
	customer := s.addCustomer(t, 10_000)
	o := testOrder(t, customer, p, 4)

	for range 3 {
		for i, step := range []forwardStep{
			a.CreateOrder, a.ReserveInventory, a.ChargePayment, a.ConfirmOrder,
		} {
			res, err := step(ctx, o)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if res.Compensated {
				t.Errorf("step %d: a duplicate reports its compensation ran; none did", i)
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
	// Then the late actions: each must change nothing, succeed, and say
	// that its compensation ran (a saga re-running its steps after a lost
	// workflow task must compensate, not go on). The confirm has no
	// compensation row of its own (CancelOrder blocked it): a saga re-run
	// stops at the create step before it.
	for name, step := range map[string]forwardStep{
		"create": a.CreateOrder, "reserve": a.ReserveInventory, "charge": a.ChargePayment, "confirm": a.ConfirmOrder,
	} {
		res, err := step(ctx, o)
		if err != nil {
			t.Fatalf("late %s: %v", name, err)
		}
		if want := name != "confirm"; res.Compensated != want || (want && res.Reason != o.Reason) {
			t.Errorf("late %s: %+v, want Compensated %v with the reason %q", name, res, want, o.Reason)
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

	if _, err := a.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	res, err := a.VoidConfirm(ctx, o)
	if err != nil || res.Confirmed {
		t.Fatalf("void confirm: %+v, %v", res, err)
	}
	if err := a.CancelOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	if late, err := a.ConfirmOrder(ctx, o); err != nil || !late.Compensated {
		t.Fatalf("late confirm: %+v, %v; want Compensated (VoidConfirm voided it)", late, err)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, o.OrderID); got != "cancelled" {
		t.Errorf("order status = %v after a late confirm, want cancelled", got)
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1 AND event_type = $2`, o.OrderID, events.TypeConfirmed); got != 0 {
		t.Errorf("a late confirm wrote an order.confirmed event")
	}

	// And a confirm that did commit is reported by VoidConfirm.
	o2 := testOrder(t, customer, p, 1)
	if _, err := a.CreateOrder(ctx, o2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ConfirmOrder(ctx, o2); err != nil {
		t.Fatal(err)
	}
	res, err = a.VoidConfirm(ctx, o2)
	if err != nil || !res.Confirmed {
		t.Errorf("void confirm after commit: %+v, %v; want confirmed", res, err)
	}
}

// TestSagaRerunAfterALostTaskCompensates: in local mode a workflow task
// runs steps and compensations that commit before the task completes; when
// the task is lost (its worker dies first), the saga runs again from its
// last recorded task over the databases as the lost task left them. Here
// the activities, called directly, leave them so; then the saga starts
// with that order. It must compensate again, a no-op at the barrier for
// what is undone, for the lost task's reason, and publish
// order.cancelled: never confirm over undone steps, though the customer
// can pay now. (TestScaleOutThreeWorkersSurviveFaults kills workers for
// real; this is the same case, every time.)
func TestSagaRerunAfterALostTaskCompensates(t *testing.T) {
	const reason = "InsufficientFundsError: the lost task's reason"
	type acts = *activities.Activities
	cases := []struct {
		name string
		lost func(a acts) []func(context.Context, spec.Order) error // what the lost task committed
	}{
		{"charge refused, every undo ran", func(a acts) []func(context.Context, spec.Order) error {
			return []func(context.Context, spec.Order) error{
				step(a.CreateOrder), step(a.ReserveInventory), a.RefundPayment, a.ReleaseInventory, a.CancelOrder}
		}},
		{"charge refused, the order not cancelled yet", func(a acts) []func(context.Context, spec.Order) error {
			return []func(context.Context, spec.Order) error{
				step(a.CreateOrder), step(a.ReserveInventory), a.RefundPayment, a.ReleaseInventory}
		}},
		{"confirm failed and voided, nothing undone yet", func(a acts) []func(context.Context, spec.Order) error {
			void := func(ctx context.Context, o spec.Order) error { _, err := a.VoidConfirm(ctx, o); return err }
			return []func(context.Context, spec.Order) error{
				step(a.CreateOrder), step(a.ReserveInventory), step(a.ChargePayment), void}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, a, ctx := stack, newActivities(t), context.Background()
			p := s.addProduct(t, 300, 10)
			customer := s.addCustomer(t, 10_000)
			o := testOrder(t, customer, p, 2)
			o.SagaID, o.Reason = workflows.OrderWorkflowID(o.OrderID), reason
			for i, run := range tc.lost(a) {
				if err := run(ctx, o); err != nil {
					t.Fatalf("lost task, call %d: %v", i, err)
				}
			}

			out := s.place(t, starter.Request{OrderID: o.OrderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}})
			want := spec.ErrAlreadyCompensated + ": " + reason
			if out.Status != workflows.Cancelled || out.Reason != want || !out.EventPublished {
				t.Fatalf("outcome = %+v, want cancelled for %q, event published", out, want)
			}
			if got := s.stock(t, p); got != 10 {
				t.Errorf("stock = %d, want 10 as before", got)
			}
			if got := s.balance(t, customer); got != 10_000 {
				t.Errorf("balance = %d, want 10000 as before", got)
			}
			if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, o.OrderID); got != spec.StatusCancelled {
				t.Errorf("order status = %v, want cancelled", got)
			}
			if got := s.count(t, "payments", `SELECT count(*) FROM tb_transaction WHERE order_id = $1 AND status = 'charged'`, o.OrderID); got != 0 {
				t.Errorf("charged transactions = %d, want none", got)
			}
			// The event (only one): the lost task's, or one with its reason.
			if ev := s.oneEvent(t, o.OrderID, events.TypeCancelled); !strings.HasSuffix(ev.Data.Reason, reason) {
				t.Errorf("event reason = %q, want the lost task's %q", ev.Data.Reason, reason)
			}
		})
	}
}

// step drops a forward step's result.
func step(f forwardStep) func(context.Context, spec.Order) error {
	return func(ctx context.Context, o spec.Order) error { _, err := f(ctx, o); return err }
}

func TestBusinessFailuresAreNonRetryable(t *testing.T) {
	s, a, ctx := stack, newActivities(t), context.Background()
	p := s.addProduct(t, 300, 2)
	poor := s.addCustomer(t, 100)

	// Each forward step's business failure: non-retryable, of its type,
	// with its message, and nothing written: the statement fails whole, so
	// the barrier row goes too and the step runs once the cause is gone.
	pending, taken := testOrder(t, poor, p, 1), testOrder(t, poor, p, 1)
	taken.OrderID = pending.OrderID
	if _, err := a.CreateOrder(ctx, pending); err != nil {
		t.Fatal(err)
	}
	confirmed := testOrder(t, poor, p, 1)
	for _, step := range []forwardStep{a.CreateOrder, a.ConfirmOrder} {
		if _, err := step(ctx, confirmed); err != nil {
			t.Fatal(err)
		}
	}
	confirmAgain := confirmed
	confirmAgain.SagaID += "-other"
	ghost := testOrder(t, "ghost-"+uniq(t, "c"), p, 1)
	for _, c := range []struct {
		name, db, step string
		run            forwardStep
		o              spec.Order
		errType, msg   string
	}{
		{"reserve beyond stock", "inventory", spec.StepReserve, a.ReserveInventory, testOrder(t, poor, p, 5), spec.ErrOutOfStock,
			fmt.Sprintf("out of stock: %s (wanted 5, 2 in stock)", p.ID)},
		{"charge beyond balance", "payments", spec.StepCharge, a.ChargePayment, testOrder(t, poor, p, 1), spec.ErrInsufficientFunds,
			"insufficient funds: customer " + poor + " has 100 cents, order %s needs 300"},
		{"charge an unknown customer", "payments", spec.StepCharge, a.ChargePayment, ghost, spec.ErrForeignKey,
			"customer does not exist: " + ghost.CustomerID},
		{"create an order another saga created", "orders", spec.StepCreate, a.CreateOrder, taken, spec.ErrOrderState,
			"order %s exists already and belongs to another saga"},
		{"confirm a confirmed order in another saga", "orders", spec.StepConfirm, a.ConfirmOrder, confirmAgain, spec.ErrOrderState,
			"cannot confirm order %s: it is not pending"},
	} {
		_, err := c.run(ctx, c.o)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != c.errType {
			t.Errorf("%s: %v, want non-retryable %s", c.name, err, c.errType)
			continue
		}
		if want := strings.ReplaceAll(c.msg, "%s", c.o.OrderID); app.Message() != want {
			t.Errorf("%s: message %q, want %q", c.name, app.Message(), want)
		}
		if n := s.count(t, c.db, `SELECT count(*) FROM tb_barrier WHERE saga_id = $1 AND step = $2`, c.o.SagaID, c.step); n != 0 {
			t.Errorf("%s: %d barrier rows left, want none", c.name, n)
		}
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

	// The failed reserve left no barrier row: with stock back, the same
	// step of the same saga reserves.
	o := testOrder(t, poor, p, 5)
	if _, err := a.ReserveInventory(ctx, o); err == nil {
		t.Fatal("reserve beyond stock succeeded")
	}
	if _, err := s.pool(t, "inventory").Exec(ctx, `UPDATE tb_product SET stock = 5 WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := a.ReserveInventory(ctx, o); err != nil || res.Compensated {
		t.Fatalf("reserve after restocking: %+v, %v", res, err)
	}
	if got := s.stock(t, p); got != 0 {
		t.Errorf("stock after the retried reserve = %d, want 0", got)
	}
}

func nonRetryable(err error, errType string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable() && app.Type() == errType
}
