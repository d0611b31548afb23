package test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
)

func TestOrderConfirmed(t *testing.T) {
	s := stack
	widget := s.addProduct(t, 1999, 10)
	gadget := s.addProduct(t, 500, 4)
	customer := s.addCustomer(t, 100_000)
	orderID := uniq(t, "ord")

	out := s.place(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{
		{SKU: widget.SKU, Quantity: 3},
		{SKU: gadget.SKU, Quantity: 1},
		{SKU: widget.SKU, Quantity: 1}, // the same SKU twice is one line of 4
	}})

	const total = 4*1999 + 500
	if out.Status != workflows.Confirmed || out.Reason != "" || out.TotalCents != total || !out.EventPublished {
		t.Fatalf("outcome = %+v, want confirmed, %d cents, event published", out, total)
	}
	if got := s.stock(t, widget); got != 6 {
		t.Errorf("widget stock = %d, want 10-4 = 6", got)
	}
	if got := s.stock(t, gadget); got != 3 {
		t.Errorf("gadget stock = %d, want 4-1 = 3", got)
	}
	if got := s.balance(t, customer); got != 100_000-total {
		t.Errorf("balance = %d, want %d", got, 100_000-total)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "confirmed" {
		t.Errorf("order status = %v, want confirmed", got)
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_order_item WHERE order_id = $1`, orderID); got != 2 {
		t.Errorf("order items = %d, want 2", got)
	}
	if got := s.count(t, "inventory", `SELECT count(*) FROM tb_reservation WHERE order_id = $1 AND status = 'reserved'`, orderID); got != 2 {
		t.Errorf("reservations = %d, want 2 reserved", got)
	}
	if got := s.scalar(t, "payments", `SELECT status FROM tb_transaction WHERE order_id = $1`, orderID); got != "charged" {
		t.Errorf("transaction = %v, want charged", got)
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1 AND published_at IS NOT NULL`, orderID); got != 1 {
		t.Errorf("published outbox rows = %d, want 1", got)
	}

	ev := s.oneEvent(t, orderID, events.TypeConfirmed)
	d := ev.Data
	if d.Status != "confirmed" || d.CustomerID != customer || d.TotalCents != total || len(d.Items) != 2 || d.Reason != "" {
		t.Errorf("event data = %+v", d)
	}
	s.replay(t, "happy", orderID)
}

func TestOrderCancelledForLackOfFunds(t *testing.T) {
	s := stack
	p := s.addProduct(t, 2500, 5)
	customer := s.addCustomer(t, 4000)
	orderID := uniq(t, "ord")

	out := s.place(t, starter.Request{OrderID: orderID, CustomerID: customer,
		Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}})

	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "InsufficientFundsError") {
		t.Fatalf("outcome = %+v, want cancelled for InsufficientFundsError", out)
	}
	if got := s.stock(t, p); got != 5 {
		t.Errorf("stock = %d, want 5 as before", got)
	}
	if got := s.balance(t, customer); got != 4000 {
		t.Errorf("balance = %d, want 4000 as before", got)
	}
	if got := s.scalar(t, "inventory", `SELECT status FROM tb_reservation WHERE order_id = $1`, orderID); got != "released" {
		t.Errorf("reservation = %v, want released", got)
	}
	if got := s.count(t, "payments", `SELECT count(*) FROM tb_transaction WHERE order_id = $1`, orderID); got != 0 {
		t.Errorf("transactions = %d, want none", got)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "cancelled" {
		t.Errorf("order status = %v, want cancelled", got)
	}
	ev := s.oneEvent(t, orderID, events.TypeCancelled)
	if ev.Data.Status != "cancelled" || !strings.Contains(ev.Data.Reason, "InsufficientFundsError") || len(ev.Data.Items) != 1 {
		t.Errorf("event data = %+v, want cancelled with the reason and the item", ev.Data)
	}
	s.replay(t, "compensated", orderID)
}

func TestOrderCancelledForLackOfStock(t *testing.T) {
	s := stack
	plenty := s.addProduct(t, 100, 50)
	scarce := s.addProduct(t, 100, 1)
	customer := s.addCustomer(t, 100_000)
	orderID := uniq(t, "ord")

	out := s.place(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{
		{SKU: plenty.SKU, Quantity: 5}, {SKU: scarce.SKU, Quantity: 2},
	}})

	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "OutOfStockError") || !strings.Contains(out.Reason, scarce.ID) {
		t.Fatalf("outcome = %+v, want cancelled for OutOfStockError naming %s", out, scarce.ID)
	}
	if s.stock(t, plenty) != 50 || s.stock(t, scarce) != 1 {
		t.Errorf("stock = %d and %d, want 50 and 1 as before", s.stock(t, plenty), s.stock(t, scarce))
	}
	if got := s.count(t, "inventory", `SELECT count(*) FROM tb_reservation WHERE order_id = $1`, orderID); got != 0 {
		t.Errorf("reservations = %d, want none", got)
	}
	if got := s.balance(t, customer); got != 100_000 {
		t.Errorf("balance = %d, want unchanged", got)
	}
	s.oneEvent(t, orderID, events.TypeCancelled)
}

func TestUnknownProductAndCustomerWriteNothing(t *testing.T) {
	s := stack
	p := s.addProduct(t, 100, 5)
	orderID := uniq(t, "ord")

	out := s.place(t, starter.Request{OrderID: orderID, CustomerID: "nobody-" + orderID, Items: []starter.Item{
		{SKU: p.SKU, Quantity: 1}, {SKU: "NO-SUCH-1", Quantity: 1}, {SKU: "NO-SUCH-2", Quantity: 1},
	}})

	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "ForeignKeyError") {
		t.Fatalf("outcome = %+v, want cancelled with ForeignKeyError", out)
	}
	for _, id := range []string{"NO-SUCH-1", "NO-SUCH-2", "nobody-" + orderID} {
		if !strings.Contains(out.Reason, id) {
			t.Errorf("reason %q does not list %s", out.Reason, id)
		}
	}
	for db, sql := range map[string]string{
		"orders":    `SELECT count(*) FROM tb_order WHERE id = $1`,
		"inventory": `SELECT count(*) FROM tb_reservation WHERE order_id = $1`,
		"payments":  `SELECT count(*) FROM tb_transaction WHERE order_id = $1`,
	} {
		if got := s.count(t, db, sql, orderID); got != 0 {
			t.Errorf("%s: %d rows written, want none", db, got)
		}
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_barrier WHERE saga_id = $1`, workflows.OrderWorkflowID(orderID)); got != 0 {
		t.Errorf("barrier rows = %d, want none", got)
	}
	if msgs := s.messages(t, orderID); len(msgs) != 0 {
		t.Errorf("messages = %+v, want none", msgs)
	}
}

func TestSameOrderTwiceRunsOneSaga(t *testing.T) {
	s := stack
	p := s.addProduct(t, 700, 10)
	customer := s.addCustomer(t, 100_000)
	req := starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}}
	ctx := context.Background()

	// Twice at once, then once more after it finished.
	var wg sync.WaitGroup
	runIDs := make([]string, 2)
	for i := range runIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := starter.PlaceOrder(ctx, s.Temporal, req, starter.TaskQueue(s.Config.Temporal.TaskQueue))
			if err != nil {
				t.Error(err)
				return
			}
			runIDs[i] = h.RunID
		}()
	}
	wg.Wait()
	first := s.place(t, req)
	again := s.place(t, req)

	if runIDs[0] == "" || runIDs[0] != runIDs[1] {
		t.Errorf("run ids %q and %q: want one run", runIDs[0], runIDs[1])
	}
	if first.Status != workflows.Confirmed || !reflect.DeepEqual(again, first) {
		t.Errorf("outcomes %+v and %+v: want the same confirmed outcome", first, again)
	}
	if got := s.stock(t, p); got != 8 {
		t.Errorf("stock = %d, want 10-2 = 8: the order ran once", got)
	}
	if got := s.balance(t, customer); got != 100_000-1400 {
		t.Errorf("balance = %d, want charged once", got)
	}
	s.oneEvent(t, req.OrderID, events.TypeConfirmed)
}
