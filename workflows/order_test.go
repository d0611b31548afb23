package workflows

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// ---------------------------------------------------------------------------
// fixtures

const (
	testOrderID    = "o-1"
	testCustomerID = "c-1"
	// wantTotal is 2×1250 + 3×399, the prices the Validate fake returns.
	wantTotal = int64(2*1250 + 3*399)
)

var testPrices = map[string]int64{"sku-a": 1250, "sku-b": 399}

func testInput() PlaceOrderInput {
	return PlaceOrderInput{
		OrderID:    testOrderID,
		CustomerID: testCustomerID,
		Items:      []spec.Item{{SKU: "sku-a", Quantity: 2}, {SKU: "sku-b", Quantity: 3}},
	}
}

func publish(eventType string) string { return spec.PublishEvent + ":" + eventType }

// seq flattens names and []string into one expected call list.
func seq(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("seq: unexpected %T", p))
		}
	}
	return out
}

func repeat(name string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name
	}
	return out
}

// hook decides what a fake activity does after it recorded its call: nil
// error for success. attempt starts at 1.
type hook func(ctx context.Context, attempt int32) error

func failAlways(err error) hook { return func(context.Context, int32) error { return err } }

func business(errType, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}

// infra is a retryable failure: the retry policy keeps retrying it.
func infra() error { return temporal.NewApplicationError("connection refused", "DBUnavailable") }

// orderFakes are fake activities registered by name. They record the order
// of the calls.
type orderFakes struct {
	hooks         map[string]hook
	voidConfirmed bool // what VoidConfirm reports

	mu     sync.Mutex
	calls  []string
	orders map[string][]spec.Order // the spec.Order inputs per activity
}

func newFakes() *orderFakes {
	return &orderFakes{hooks: map[string]hook{}, orders: map[string][]spec.Order{}}
}

func (f *orderFakes) record(ctx context.Context, call string, o *spec.Order) error {
	name := activity.GetInfo(ctx).ActivityType.Name
	f.mu.Lock()
	f.calls = append(f.calls, call)
	if o != nil {
		f.orders[name] = append(f.orders[name], *o)
	}
	h := f.hooks[name]
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(ctx, activity.GetInfo(ctx).Attempt)
}

func (f *orderFakes) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *orderFakes) Orders(name string) []spec.Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]spec.Order(nil), f.orders[name]...)
}

func (f *orderFakes) count(name string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == name {
			n++
		}
	}
	return n
}

func (f *orderFakes) register(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterActivityWithOptions(func(ctx context.Context, in spec.ValidateInput) (spec.ValidateResult, error) {
		if err := f.record(ctx, spec.Validate, nil); err != nil {
			return spec.ValidateResult{}, err
		}
		var res spec.ValidateResult
		for _, it := range in.Items {
			p := testPrices[it.SKU]
			res.Lines = append(res.Lines, spec.Line{ProductID: "p-" + it.SKU, SKU: it.SKU, Name: it.SKU, Quantity: it.Quantity, PriceCents: p})
			res.TotalCents += p * int64(it.Quantity)
		}
		return res, nil
	}, activity.RegisterOptions{Name: spec.Validate})

	for _, name := range []string{
		spec.CreateOrder, spec.CancelOrder,
		spec.ReserveInventory, spec.ReleaseInventory,
		spec.ChargePayment, spec.RefundPayment,
		spec.ConfirmOrder,
	} {
		env.RegisterActivityWithOptions(func(ctx context.Context, o spec.Order) error {
			return f.record(ctx, name, &o)
		}, activity.RegisterOptions{Name: name})
	}

	env.RegisterActivityWithOptions(func(ctx context.Context, o spec.Order) (spec.VoidConfirmResult, error) {
		if err := f.record(ctx, spec.VoidConfirm, &o); err != nil {
			return spec.VoidConfirmResult{}, err
		}
		return spec.VoidConfirmResult{Confirmed: f.voidConfirmed}, nil
	}, activity.RegisterOptions{Name: spec.VoidConfirm})

	env.RegisterActivityWithOptions(func(ctx context.Context, in spec.PublishInput) (spec.PublishResult, error) {
		if in.OrderID != testOrderID {
			return spec.PublishResult{}, temporal.NewNonRetryableApplicationError("unexpected order "+in.OrderID, "TestError", nil)
		}
		if err := f.record(ctx, publish(in.EventType), nil); err != nil {
			return spec.PublishResult{}, err
		}
		return spec.PublishResult{EventID: "evt-" + in.EventType, Stream: "ORDERS", Sequence: 1}, nil
	}, activity.RegisterOptions{Name: spec.PublishEvent})
}

func newOrderEnv(t *testing.T, settings Settings, f *orderFakes) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second) // the StartToClose test waits 10 s of wall time
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: OrderWorkflowID(testOrderID)})
	env.RegisterWorkflowWithOptions((&Orders{Settings: settings}).PlaceOrder, workflow.RegisterOptions{Name: PlaceOrderName})
	f.register(env)
	return env
}

// runOrder runs the saga to completion and returns its outcome and error.
func runOrder(t *testing.T, env *testsuite.TestWorkflowEnvironment, in PlaceOrderInput) (*Outcome, error) {
	t.Helper()
	env.ExecuteWorkflow(PlaceOrderName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var out Outcome
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatalf("decode outcome: %v", err)
	}
	return &out, nil
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) saga.State {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatalf("query %s: %v", QueryState, err)
	}
	var st saga.State
	if err := v.Get(&st); err != nil {
		t.Fatalf("decode state: %v", err)
	}
	return st
}

func assertCalls(t *testing.T, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("activity calls:\n got  %q\n want %q", got, want)
	}
}

// assertOrderInputs checks that every database step and compensation got the
// priced order of this saga, and that only CancelOrder carries the reason.
func assertOrderInputs(t *testing.T, f *orderFakes, reason string) {
	t.Helper()
	for _, name := range []string{
		spec.CreateOrder, spec.CancelOrder, spec.ReserveInventory, spec.ReleaseInventory,
		spec.ChargePayment, spec.RefundPayment, spec.ConfirmOrder, spec.VoidConfirm,
	} {
		for _, o := range f.Orders(name) {
			if o.SagaID != OrderWorkflowID(testOrderID) || o.OrderID != testOrderID || o.CustomerID != testCustomerID ||
				o.TotalCents != wantTotal || len(o.Lines) != 2 {
				t.Errorf("%s got order %+v", name, o)
			}
			want := ""
			if name == spec.CancelOrder {
				want = reason
			}
			if o.Reason != want {
				t.Errorf("%s got reason %q, want %q", name, o.Reason, want)
			}
		}
	}
}

func assertCancelled(t *testing.T, out *Outcome, reasonHas ...string) {
	t.Helper()
	if out.Status != Cancelled {
		t.Fatalf("status %q, want %q (outcome %+v)", out.Status, Cancelled, out)
	}
	if out.OrderID != testOrderID {
		t.Errorf("outcome order id %q", out.OrderID)
	}
	for _, s := range reasonHas {
		if !strings.Contains(out.Reason, s) {
			t.Errorf("reason %q does not contain %q", out.Reason, s)
		}
	}
}

// ---------------------------------------------------------------------------
// tests

func TestPlaceOrderHappyPath(t *testing.T) {
	f := newFakes()
	env := newOrderEnv(t, Settings{}, f)
	out, err := runOrder(t, env, testInput())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
		spec.ConfirmOrder, publish(spec.EventConfirmed)))
	want := Outcome{OrderID: testOrderID, Status: Confirmed, TotalCents: wantTotal,
		EventID: "evt-" + spec.EventConfirmed, EventPublished: true}
	if *out != want {
		t.Fatalf("outcome %+v, want %+v", *out, want)
	}
	assertOrderInputs(t, f, "")
	if lines := f.Orders(spec.CreateOrder)[0].Lines; lines[0].PriceCents != 1250 || lines[1].Quantity != 3 {
		t.Errorf("CreateOrder got lines %+v", lines)
	}
}

func TestPlaceOrderValidateRefused(t *testing.T) {
	f := newFakes()
	f.hooks[spec.Validate] = failAlways(business(spec.ErrForeignKey, "customer c-1 does not exist"))
	env := newOrderEnv(t, Settings{}, f)
	out, err := runOrder(t, env, testInput())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	assertCalls(t, f.Calls(), seq(spec.Validate))
	assertCancelled(t, out, spec.ErrForeignKey, "customer c-1 does not exist")
	if out.Reason != "ForeignKeyError: customer c-1 does not exist" {
		t.Errorf("reason %q", out.Reason)
	}
	if out.EventPublished || out.EventID != "" || out.TotalCents != 0 {
		t.Errorf("outcome %+v: nothing should be published or priced", out)
	}
}

// TestPlaceOrderValidateUnavailable: a Validate that never succeeds is not a
// business refusal: the workflow fails and no step runs.
func TestPlaceOrderValidateUnavailable(t *testing.T) {
	f := newFakes()
	f.hooks[spec.Validate] = failAlways(infra())
	env := newOrderEnv(t, Settings{}, f)
	_, err := runOrder(t, env, testInput())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("workflow error %v, want the Validate failure", err)
	}
	assertCalls(t, f.Calls(), repeat(spec.Validate, 10))
}

func TestPlaceOrderInvalidInput(t *testing.T) {
	f := newFakes()
	env := newOrderEnv(t, Settings{}, f)
	in := testInput()
	in.OrderID = "bad id"
	_, err := runOrder(t, env, in)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "InvalidInput" || !strings.Contains(app.Error(), "order_id") {
		t.Fatalf("workflow error %v, want InvalidInput naming order_id", err)
	}
	assertCalls(t, f.Calls(), nil)
}

// TestPlaceOrderStepFails: every forward step × {business failure, retries
// exhausted}. The compensations of every step registered so far run in
// reverse order, the failed step's own one included.
func TestPlaceOrderStepFails(t *testing.T) {
	forward := []string{spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder}
	steps := []struct {
		step     string
		activity string
		errType  string
		msg      string
		comps    []string // the compensations, in the order they must run
	}{
		{spec.StepCreate, spec.CreateOrder, spec.ErrOrderState, "order o-1 exists already",
			seq(spec.CancelOrder)},
		{spec.StepReserve, spec.ReserveInventory, spec.ErrOutOfStock, "sku-a: 1 left, 2 wanted",
			seq(spec.ReleaseInventory, spec.CancelOrder)},
		{spec.StepCharge, spec.ChargePayment, spec.ErrInsufficientFunds, "balance 100 < 3697",
			seq(spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder)},
		{spec.StepConfirm, spec.ConfirmOrder, spec.ErrOrderState, "order o-1 is not pending",
			seq(spec.VoidConfirm, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder)},
	}
	kinds := []struct {
		name     string
		attempts int
		err      func(errType, msg string) error
		reason   func(errType, msg string) string
	}{
		{"business", 1, business, func(errType, msg string) string { return errType + ": " + msg }},
		{"retries exhausted", 10, func(string, string) error { return infra() },
			func(string, string) string { return "DBUnavailable: connection refused" }},
	}
	for _, st := range steps {
		for _, k := range kinds {
			t.Run(st.step+"/"+k.name, func(t *testing.T) {
				f := newFakes()
				f.hooks[st.activity] = failAlways(k.err(st.errType, st.msg))
				env := newOrderEnv(t, Settings{}, f)
				out, err := runOrder(t, env, testInput())
				if err != nil {
					t.Fatalf("workflow error: %v", err)
				}

				var want []string
				for _, a := range forward {
					if a == st.activity {
						break
					}
					want = append(want, a)
				}
				want = append(want, repeat(st.activity, k.attempts)...)
				if st.activity == spec.ConfirmOrder {
					want = append(want, spec.VoidConfirm) // the confirm wrapper asks whether it committed
				}
				want = append(want, st.comps...)
				want = append(want, publish(spec.EventCancelled))
				assertCalls(t, f.Calls(), want)
				if n := f.count(st.activity); n != k.attempts {
					t.Errorf("%s called %d times, want %d", st.activity, n, k.attempts)
				}

				reason := k.reason(st.errType, st.msg)
				assertCancelled(t, out)
				if out.Reason != reason {
					t.Errorf("reason %q, want %q", out.Reason, reason)
				}
				if out.TotalCents != wantTotal || !out.EventPublished || out.EventID != "evt-"+spec.EventCancelled {
					t.Errorf("outcome %+v", out)
				}
				cancels := f.Orders(spec.CancelOrder)
				if len(cancels) != 1 || cancels[0].Reason != reason {
					t.Errorf("CancelOrder inputs %+v, want one with reason %q", cancels, reason)
				}
				assertOrderInputs(t, f, reason)
			})
		}
	}
}

// TestPlaceOrderConfirmCommittedDespiteError: ConfirmOrder reports a failure
// but VoidConfirm finds it had committed: the order is confirmed and nothing
// is compensated.
func TestPlaceOrderConfirmCommittedDespiteError(t *testing.T) {
	for _, k := range []struct {
		name     string
		err      error
		attempts int
	}{
		{"business", business(spec.ErrOrderState, "lost response"), 1},
		{"retries exhausted", infra(), 10},
	} {
		t.Run(k.name, func(t *testing.T) {
			f := newFakes()
			f.hooks[spec.ConfirmOrder] = failAlways(k.err)
			f.voidConfirmed = true
			env := newOrderEnv(t, Settings{}, f)
			out, err := runOrder(t, env, testInput())
			if err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
				repeat(spec.ConfirmOrder, k.attempts), spec.VoidConfirm, publish(spec.EventConfirmed)))
			if out.Status != Confirmed || out.Reason != "" || out.TotalCents != wantTotal || !out.EventPublished {
				t.Fatalf("outcome %+v, want confirmed", out)
			}
			if st := queryState(t, env); st.Status != saga.StatusCompleted {
				t.Errorf("state %+v, want completed", st)
			}
		})
	}
}

// TestPlaceOrderStartToCloseTimeout: ChargePayment outlives its 10 s
// StartToClose. Activities run on the wall clock in the test environment, so
// this test takes 10 s; it runs in parallel with the others. The test
// environment does not retry an attempt that timed out (a real server would
// retry it up to MaximumAttempts), so ChargePayment runs once.
func TestPlaceOrderStartToCloseTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 10 s of wall time")
	}
	t.Parallel()
	f := newFakes()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.hooks[spec.ChargePayment] = func(ctx context.Context, _ int32) error {
		select {
		case <-ctx.Done(): // the StartToClose deadline
			return ctx.Err()
		case <-release:
			return nil
		}
	}
	env := newOrderEnv(t, Settings{}, f)
	out, err := runOrder(t, env, testInput())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
		spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(spec.EventCancelled)))
	t.Logf("reason: %s", out.Reason)
	assertCancelled(t, out, "timeout", "StartToClose")
	assertOrderInputs(t, f, out.Reason)
	st := queryState(t, env)
	if st.Status != saga.StatusCompensated || st.Steps[2].Name != spec.StepCharge ||
		st.Steps[2].Status != saga.StepCompensated || !strings.Contains(st.Steps[2].Error, "timeout") {
		t.Errorf("state %+v", st)
	}
}

// TestPlaceOrderCancelledDuringCharge: the workflow is cancelled while
// ChargePayment runs; the compensations still run in a disconnected context
// and order.cancelled is published.
func TestPlaceOrderCancelledDuringCharge(t *testing.T) {
	f := newFakes()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started := make(chan struct{})
	f.hooks[spec.ChargePayment] = func(ctx context.Context, _ int32) error {
		close(started)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return nil
		}
	}
	env := newOrderEnv(t, Settings{}, f)
	// The callback fires on the wall clock while ChargePayment blocks.
	env.RegisterDelayedCallback(func() {
		select {
		case <-started:
		default:
			t.Error("cancel fired before ChargePayment started")
		}
		env.CancelWorkflow()
	}, 300*time.Millisecond)
	out, err := runOrder(t, env, testInput())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
		spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(spec.EventCancelled)))
	t.Logf("reason: %s", out.Reason)
	assertCancelled(t, out, "saga cancelled")
	if !out.EventPublished {
		t.Errorf("order.cancelled not published: %+v", out)
	}
	assertOrderInputs(t, f, out.Reason)
	st := queryState(t, env)
	if st.Status != saga.StatusCompensated {
		t.Errorf("state %+v, want compensated", st)
	}
}

// TestPlaceOrderSagaTimeout: the saga's 1 minute timeout passes while
// ChargePayment (a mock delayed by 2 minutes of workflow time) runs.
func TestPlaceOrderSagaTimeout(t *testing.T) {
	f := newFakes()
	env := newOrderEnv(t, Settings{Timeout: time.Minute}, f)
	// The mock replaces the fake; record its start with the listener.
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == spec.ChargePayment {
			f.mu.Lock()
			f.calls = append(f.calls, spec.ChargePayment)
			f.mu.Unlock()
		}
	})
	env.OnActivity(spec.ChargePayment, mock.Anything, mock.Anything).After(2 * time.Minute).Return(nil)
	start := env.Now()
	out, err := runOrder(t, env, testInput())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
		spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(spec.EventCancelled)))
	t.Logf("reason: %s", out.Reason)
	assertCancelled(t, out, saga.ErrTimeout.Error(), "1m0s")
	assertOrderInputs(t, f, out.Reason)
	st := queryState(t, env)
	if st.Status != saga.StatusCompensated || st.Steps[2].Status != saga.StepCompensated ||
		!strings.Contains(st.Steps[2].Error, saga.ErrTimeout.Error()) {
		t.Errorf("state %+v", st)
	}
	// The saga gave up at 1 minute, not when ChargePayment returned.
	if ended := st.Steps[2].EndedAt.Sub(start); ended < time.Minute || ended >= 2*time.Minute {
		t.Errorf("charge step ended %v after the start, want at the 1 minute timeout", ended)
	}
}

// TestPlaceOrderCompensationFails: a compensation that keeps failing makes
// the workflow fail with SagaCompensationError; by default the compensations
// after it do not run and nothing is published.
func TestPlaceOrderCompensationFails(t *testing.T) {
	cases := []struct {
		name     string
		settings Settings
		refund   hook
		attempts int // RefundPayment attempts
	}{
		{"non-retryable", Settings{}, failAlways(business("RefundRejected", "card closed")), 1},
		// Retried until the CompensationTimeout (its ScheduleToClose) passes:
		// attempts at 0, 0.2, 0.6, 1.4, 3, 6.2, 12.6, 25.4 and 51 s; the next
		// one (30 s later) would start after 1 minute. The default 10 minutes
		// would allow many more.
		{"retryable until CompensationTimeout", Settings{CompensationTimeout: time.Minute}, failAlways(infra()), 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			f.hooks[spec.ChargePayment] = failAlways(business(spec.ErrInsufficientFunds, "balance 100 < 3697"))
			f.hooks[spec.RefundPayment] = tc.refund
			env := newOrderEnv(t, tc.settings, f)
			_, err := runOrder(t, env, testInput())
			if err == nil {
				t.Fatal("workflow succeeded, want SagaCompensationError")
			}
			for _, s := range []string{"SagaCompensationError", "compensation of step " + spec.StepCharge, spec.ErrInsufficientFunds} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("workflow error %q does not contain %q", err, s)
				}
			}
			t.Logf("workflow error: %v", err)
			refunds := f.count(spec.RefundPayment)
			if refunds != tc.attempts {
				t.Errorf("RefundPayment called %d times, want %d", refunds, tc.attempts)
			}
			assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
				repeat(spec.RefundPayment, refunds)))
			st := queryState(t, env)
			want := []string{saga.StepDone, saga.StepDone, saga.StepCompFailed, saga.StepPending}
			if st.Status != saga.StatusCompensationFailed || !reflect.DeepEqual(stepStatuses(st), want) {
				t.Errorf("state %+v, want compensation_failed with steps %q", st, want)
			}
		})
	}
}

func stepStatuses(st saga.State) []string {
	var out []string
	for _, s := range st.Steps {
		out = append(out, s.Status)
	}
	return out
}

// TestPlaceOrderStateQuery: the state query after the saga finished.
func TestPlaceOrderStateQuery(t *testing.T) {
	stepNames := []string{spec.StepCreate, spec.StepReserve, spec.StepCharge, spec.StepConfirm}
	cases := []struct {
		name     string
		hooks    map[string]hook
		status   string
		reason   string
		statuses []string
	}{
		{"completed", nil, saga.StatusCompleted, "",
			[]string{saga.StepDone, saga.StepDone, saga.StepDone, saga.StepDone}},
		{"compensated", map[string]hook{spec.ReserveInventory: failAlways(business(spec.ErrOutOfStock, "sku-a: 0 left"))},
			saga.StatusCompensated, "OutOfStockError: sku-a: 0 left",
			[]string{saga.StepCompensated, saga.StepCompensated, saga.StepPending, saga.StepPending}},
		{"confirm compensated", map[string]hook{spec.ConfirmOrder: failAlways(business(spec.ErrOrderState, "not pending"))},
			saga.StatusCompensated, "OrderStateError: not pending",
			[]string{saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			for k, h := range tc.hooks {
				f.hooks[k] = h
			}
			env := newOrderEnv(t, Settings{}, f)
			if _, err := runOrder(t, env, testInput()); err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			st := queryState(t, env)
			if st.Status != tc.status || st.Reason != tc.reason || st.Step != "" {
				t.Errorf("state status %q reason %q step %q, want %q %q \"\"", st.Status, st.Reason, st.Step, tc.status, tc.reason)
			}
			var names []string
			for _, s := range st.Steps {
				names = append(names, s.Name)
			}
			if !reflect.DeepEqual(names, stepNames) || !reflect.DeepEqual(stepStatuses(st), tc.statuses) {
				t.Errorf("steps %+v, want names %q statuses %q", st.Steps, stepNames, tc.statuses)
			}
			for _, s := range st.Steps {
				if s.Status != saga.StepPending && s.StartedAt.IsZero() {
					t.Errorf("step %s has no start time", s.Name)
				}
			}
		})
	}
}

func TestPlaceOrderInputValidate(t *testing.T) {
	valid := testInput
	cases := []struct {
		name   string
		modify func(*PlaceOrderInput)
		field  string // "" when valid
	}{
		{"valid", func(*PlaceOrderInput) {}, ""},
		{"64 character id", func(in *PlaceOrderInput) { in.OrderID = strings.Repeat("a", 64) }, ""},
		{"empty order id", func(in *PlaceOrderInput) { in.OrderID = "" }, "order_id"},
		{"order id with space", func(in *PlaceOrderInput) { in.OrderID = "o 1" }, "order_id"},
		{"order id with dot", func(in *PlaceOrderInput) { in.OrderID = "o.1" }, "order_id"},
		{"order id with slash", func(in *PlaceOrderInput) { in.OrderID = "o/1" }, "order_id"},
		{"65 character id", func(in *PlaceOrderInput) { in.OrderID = strings.Repeat("a", 65) }, "order_id"},
		{"empty customer", func(in *PlaceOrderInput) { in.CustomerID = "" }, "customer_id"},
		{"no items", func(in *PlaceOrderInput) { in.Items = nil }, "items"},
		{"empty items", func(in *PlaceOrderInput) { in.Items = []spec.Item{} }, "items"},
		{"quantity 0", func(in *PlaceOrderInput) { in.Items[1].Quantity = 0 }, "items[1].quantity"},
		{"negative quantity", func(in *PlaceOrderInput) { in.Items[0].Quantity = -1 }, "items[0].quantity"},
		{"empty sku", func(in *PlaceOrderInput) { in.Items[0].SKU = "" }, "items[0].sku"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.modify(&in)
			err := in.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %s", tc.field)
			}
			if !strings.HasPrefix(err.Error(), tc.field) {
				t.Errorf("Validate() = %q, want it to name %s", err, tc.field)
			}
		})
	}

	t.Run("every problem named", func(t *testing.T) {
		in := PlaceOrderInput{OrderID: "a.b", Items: []spec.Item{{SKU: "", Quantity: 0}}}
		err := in.Validate()
		for _, field := range []string{"order_id", "customer_id", "items[0].sku", "items[0].quantity"} {
			if err == nil || !strings.Contains(err.Error(), field) {
				t.Errorf("Validate() = %v, want it to name %s", err, field)
			}
		}
	})
}
