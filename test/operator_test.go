package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// lockProduct holds a row lock on a product, so a saga's reserve step waits
// for it: a saga stuck on a step. release ends the lock.
func (s *Stack) lockProduct(t *testing.T, p product) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.pool(t, "inventory").Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tb_product WHERE id = $1 FOR UPDATE`, p.ID); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
		}
	}
	t.Cleanup(release)
	return release
}

// start places an order without waiting for it.
func (s *Stack) start(t *testing.T, req starter.Request, queue string) *starter.Handle {
	t.Helper()
	if queue == "" {
		queue = s.Config.Temporal.TaskQueue
	}
	h, err := starter.PlaceOrder(context.Background(), s.Temporal, req, starter.TaskQueue(queue))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not after %s; last seen: %s", what, d, last)
}

// waitState waits until the saga's state query reports the status (and
// step, when not empty).
func (s *Stack) waitState(t *testing.T, orderID, status, step string) *starter.State {
	t.Helper()
	var st *starter.State
	waitFor(t, "saga "+orderID+" "+status+" "+step, 30*time.Second, func() (bool, string) {
		var err error
		st, err = starter.SagaState(context.Background(), s.Temporal, orderID)
		if err != nil {
			return false, err.Error()
		}
		return st.Status == status && (step == "" || st.Step == step), st.Status + "/" + st.Step
	})
	return st
}

// waitListed waits until `saga list` with the filter shows the order with the
// status and step (the search attributes).
func (s *Stack) waitListed(t *testing.T, f starter.Filter, orderID, status, step string) starter.Summary {
	t.Helper()
	var found starter.Summary
	waitFor(t, "saga list shows "+orderID+" "+status, 30*time.Second, func() (bool, string) {
		sagas, err := starter.List(context.Background(), s.Temporal, f)
		if err != nil {
			return false, err.Error()
		}
		for _, sg := range sagas {
			if sg.OrderID == orderID {
				found = sg
				return sg.Status == status && (step == "" || sg.Step == step), sg.Status + "/" + sg.Step
			}
		}
		return false, "not listed"
	})
	return found
}

func TestOperatorAbortsAStuckSagaThroughTheCLI(t *testing.T) {
	s := stack
	p := s.addProduct(t, 900, 10)
	customer := s.addCustomer(t, 50_000)
	release := s.lockProduct(t, p)
	orderID := uniq(t, "ord")
	h := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}}, "")

	// Stuck on the reserve step: the query, the search attributes and
	// `saga list --stuck` all show it.
	s.waitState(t, orderID, saga.StatusRunning, "reserve_inventory")
	sum := s.waitListed(t, starter.Filter{Status: saga.StatusRunning}, orderID, saga.StatusRunning, "reserve_inventory")
	if sum.CustomerID != customer || sum.WorkflowID != workflows.OrderWorkflowID(orderID) {
		t.Errorf("listed %+v", sum)
	}
	time.Sleep(1100 * time.Millisecond)
	r := fedsaga(t, nil, "saga", "list", "--stuck", "--older-than", "1s")
	if r.code != 0 || !strings.Contains(r.stdout, orderID) || !strings.Contains(r.stdout, "reserve_inventory") {
		t.Errorf("saga list --stuck: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = fedsaga(t, nil, "saga", "list", "--stuck", "--older-than", "1h")
	if r.code != 0 || strings.Contains(r.stdout, orderID) {
		t.Errorf("saga list --stuck --older-than 1h lists a young saga: exit %d\n%s", r.code, r.stdout)
	}

	// Operator mistakes are refused and change nothing.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"saga", "compensate", orderID}, 2, "--reason"},
		{[]string{"saga", "retry-compensation", orderID}, 1, "retry-compensation applies to a saga in compensation_failed"},
		{[]string{"saga", "resolve", orderID, "--reason", "x"}, 1, "resolve applies to a saga in compensation_failed"},
		{[]string{"saga", "status", "no-such-order"}, 1, "no saga for order no-such-order"},
		{[]string{"saga", "compensate", "no-such-order", "--reason", "x"}, 1, "fedsaga saga list"},
		{[]string{"saga", "list", "--status", "lost"}, 2, "compensation_failed"},
	} {
		r := fedsaga(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("fedsaga %v: exit %d, stderr %q; want exit %d naming %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	s.waitState(t, orderID, saga.StatusRunning, "reserve_inventory")

	r = fedsaga(t, nil, "saga", "compensate", orderID, "--reason", "customer called to cancel")
	if r.code != 0 {
		t.Fatalf("saga compensate: exit %d: %s", r.code, r.stderr)
	}
	release()
	out, err := h.Result(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "aborted by operator: customer called to cancel") {
		t.Errorf("outcome %+v, want cancelled by the operator", out)
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d, want 10", got)
	}
	if got := s.count(t, "inventory", `SELECT count(*) FROM tb_reservation WHERE order_id = $1 AND status = 'reserved'`, orderID); got != 0 {
		t.Errorf("%d reservations left reserved", got)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "cancelled" {
		t.Errorf("order = %v, want cancelled", got)
	}
	s.oneEvent(t, orderID, events.TypeCancelled)

	st := s.waitState(t, orderID, saga.StatusCompensated, "")
	if st.FailedStep != "reserve_inventory" || !strings.Contains(st.Reason, "customer called to cancel") {
		t.Errorf("state %+v", st)
	}
	s.waitListed(t, starter.Filter{Status: saga.StatusCompensated}, orderID, saga.StatusCompensated, "")
	r = fedsaga(t, nil, "saga", "status", orderID)
	if r.code != 0 || !strings.Contains(r.stdout, "compensated") || !strings.Contains(r.stdout, "create_order") {
		t.Errorf("saga status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = fedsaga(t, nil, "saga", "compensate", orderID, "--reason", "again")
	if r.code != 1 || !strings.Contains(r.stderr, "has finished (completed): nothing to compensate") {
		t.Errorf("compensate a finished saga: exit %d: %s", r.code, r.stderr)
	}
	s.replay(t, "aborted", orderID)
}

func TestCompensationFailsUntilTheDatabaseIsFixed(t *testing.T) {
	s := stack
	ctx := context.Background()
	p := s.addProduct(t, 3000, 10)
	customer := s.addCustomer(t, 1000) // too little: the charge fails, the saga compensates
	orderID := uniq(t, "ord")

	// Break the inventory database for this order: releasing its
	// reservation fails until the trigger is dropped.
	fn := "fail_" + strings.ReplaceAll(strings.ToLower(orderID), "-", "_")
	inv := s.pool(t, "inventory")
	_, err := inv.Exec(ctx, `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'inventory maintenance: reservations are read-only'; END $$`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = inv.Exec(ctx, `CREATE TRIGGER `+fn+` BEFORE UPDATE ON tb_reservation FOR EACH ROW
		WHEN (OLD.order_id = '`+orderID+`') EXECUTE FUNCTION `+fn+`()`)
	if err != nil {
		t.Fatal(err)
	}
	fixed := false
	fix := func() {
		if !fixed {
			fixed = true
			inv.Exec(ctx, `DROP TRIGGER IF EXISTS `+fn+` ON tb_reservation`)
			inv.Exec(ctx, `DROP FUNCTION IF EXISTS `+fn+`()`)
		}
	}
	t.Cleanup(fix)

	h := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, "")
	st := s.waitState(t, orderID, saga.StatusCompensationFailed, "")
	if !strings.Contains(st.Error, "SagaCompensationError") || !strings.Contains(st.Error, "reserve_inventory") ||
		!strings.Contains(st.Error, "reservations are read-only") {
		t.Errorf("state error %q: want a SagaCompensationError naming the step and the cause", st.Error)
	}
	var rs *saga.StepState
	for i := range st.Steps {
		if st.Steps[i].Name == "reserve_inventory" {
			rs = &st.Steps[i]
		}
	}
	if rs == nil || rs.Status != saga.StepCompensationFailed || rs.CompensationAttempts < 2 {
		t.Errorf("reserve step %+v: want compensation_failed after several attempts", rs)
	}
	if !strings.Contains(st.Error, "attempts") || strings.Contains(st.Error, "unknown attempts") {
		t.Errorf("state error %q does not give the attempts", st.Error)
	}
	s.waitListed(t, starter.Filter{Status: saga.StatusCompensationFailed}, orderID, saga.StatusCompensationFailed, "")
	r := fedsaga(t, nil, "saga", "status", orderID)
	if !strings.Contains(r.stdout, "compensation_failed") || !strings.Contains(r.stdout, "SagaCompensationError") {
		t.Errorf("saga status:\n%s", r.stdout)
	}
	// The order is not cancelled yet: its compensation has not run.
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "pending" {
		t.Errorf("order = %v while compensation_failed, want pending", got)
	}

	// Retrying before the fix fails again; after the fix it compensates.
	r = fedsaga(t, nil, "saga", "retry-compensation", orderID)
	if r.code != 0 {
		t.Fatalf("retry-compensation: exit %d: %s", r.code, r.stderr)
	}
	s.waitState(t, orderID, saga.StatusCompensationFailed, "")
	fix()
	r = fedsaga(t, nil, "saga", "retry-compensation", orderID)
	if r.code != 0 {
		t.Fatalf("retry-compensation: exit %d: %s", r.code, r.stderr)
	}
	out, err := h.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "InsufficientFundsError") {
		t.Errorf("outcome %+v", out)
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d, want 10 after the retried compensation", got)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "cancelled" {
		t.Errorf("order = %v, want cancelled", got)
	}
	st = s.waitState(t, orderID, saga.StatusCompensated, "")
	s.oneEvent(t, orderID, events.TypeCancelled)
	s.replay(t, "compensation_failed_retried", orderID)
}

func TestOperatorResolvesAFailedCompensation(t *testing.T) {
	s := stack
	ctx := context.Background()
	p := s.addProduct(t, 3000, 10)
	customer := s.addCustomer(t, 1000)
	orderID := uniq(t, "ord")
	inv := s.pool(t, "inventory")
	fn := s.breakRelease(t, orderID)
	h := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, "")
	s.waitState(t, orderID, saga.StatusCompensationFailed, "")

	// The operator releases the stock by hand, then resolves.
	if _, err := inv.Exec(ctx, `ALTER TABLE tb_reservation DISABLE TRIGGER `+fn); err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Exec(ctx, `UPDATE tb_product SET stock = stock + 1 WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	r := fedsaga(t, nil, "saga", "resolve", orderID)
	if r.code != 2 || !strings.Contains(r.stderr, "--reason") {
		t.Errorf("resolve without --reason: exit %d %s", r.code, r.stderr)
	}
	r = fedsaga(t, nil, "saga", "resolve", orderID, "--reason", "stock released by hand, ticket OPS-1")
	if r.code != 0 {
		t.Fatalf("resolve: exit %d: %s", r.code, r.stderr)
	}
	out, err := h.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Cancelled || len(out.Resolved) != 1 || out.Resolved[0] != "reserve_inventory" {
		t.Errorf("outcome %+v: want cancelled with reserve_inventory resolved", out)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "cancelled" {
		t.Errorf("order = %v: the compensations after the resolved one did not run", got)
	}
	st := s.waitState(t, orderID, saga.StatusCompensated, "")
	for _, step := range st.Steps {
		if step.Name == "reserve_inventory" && (step.Status != saga.StepResolved || step.Resolution != "stock released by hand, ticket OPS-1") {
			t.Errorf("reserve step %+v", step)
		}
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d, want 10", got)
	}
	s.replay(t, "compensation_failed_resolved", orderID)
}

// breakRelease makes releasing the reservations of the order fail (a
// trigger that raises) until the test disables the trigger it returns:
// the saga's compensation of reserve_inventory fails. The test's cleanup
// drops it.
func (s *Stack) breakRelease(t *testing.T, orderID string) (trigger string) {
	t.Helper()
	ctx := context.Background()
	fn := "fail_" + strings.ReplaceAll(strings.ToLower(orderID), "-", "_")
	inv := s.pool(t, "inventory")
	for _, sql := range []string{
		`CREATE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'broken'; END $$`,
		`CREATE TRIGGER ` + fn + ` BEFORE UPDATE ON tb_reservation FOR EACH ROW WHEN (OLD.order_id = '` + orderID + `') EXECUTE FUNCTION ` + fn + `()`,
	} {
		if _, err := inv.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		inv.Exec(ctx, `DROP TRIGGER IF EXISTS `+fn+` ON tb_reservation`)
		inv.Exec(ctx, `DROP FUNCTION IF EXISTS `+fn+`()`)
	})
	return fn
}
