package workflows

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/workflows/internal/sagatest"
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

func priced() spec.ValidateResult {
	var res spec.ValidateResult
	for _, it := range testInput().Items {
		p := testPrices[it.SKU]
		res.Lines = append(res.Lines, spec.Line{ProductID: "p-" + it.SKU, SKU: it.SKU, Name: it.SKU, Quantity: it.Quantity, PriceCents: p})
		res.TotalCents += p * int64(it.Quantity)
	}
	return res
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

func repeat(name string, n int) []string { return slices.Repeat([]string{name}, n) }

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
// of the calls, and whether each ran as a local activity.
type orderFakes struct {
	sagatest.Recorder // its Fix makes the named activities succeed from now on

	hooks         map[string]hook
	voidConfirmed bool              // what VoidConfirm reports
	compensated   map[string]string // forward activities that report spec.StepResult.Compensated, with this reason

	mu     sync.Mutex
	orders map[string][]spec.Order  // the spec.Order inputs per activity
	mocked map[string]bool          // activities replaced by a mock (recorded by a listener)
	limits map[string]time.Duration // the ScheduleToClose of the mocked activity that started last

	sa *sagatest.SearchAttributes
}

func newFakes() *orderFakes {
	return &orderFakes{hooks: map[string]hook{}, compensated: map[string]string{}, orders: map[string][]spec.Order{}, mocked: map[string]bool{},
		limits: map[string]time.Duration{}}
}

func (f *orderFakes) record(ctx context.Context, call string, o *spec.Order) error {
	info := activity.GetInfo(ctx)
	name := info.ActivityType.Name
	f.Add(call, &info)
	f.mu.Lock()
	if o != nil {
		f.orders[name] = append(f.orders[name], *o)
	}
	h := f.hooks[name]
	f.mu.Unlock()
	if h == nil || f.Fixed(name) {
		return nil
	}
	return h(ctx, info.Attempt)
}

func (f *orderFakes) Orders(name string) []spec.Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.orders[name])
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
		if !reflect.DeepEqual(in, spec.ValidateInput{OrderID: testOrderID, CustomerID: testCustomerID, Items: testInput().Items}) {
			return spec.ValidateResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unexpected input %+v", in), "TestError", nil)
		}
		return priced(), nil
	}, activity.RegisterOptions{Name: spec.Validate})

	for _, name := range []string{spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder} {
		env.RegisterActivityWithOptions(func(ctx context.Context, o spec.Order) (spec.StepResult, error) {
			if err := f.record(ctx, name, &o); err != nil {
				return spec.StepResult{}, err
			}
			reason, compensated := f.compensated[name]
			return spec.StepResult{Compensated: compensated, Reason: reason}, nil
		}, activity.RegisterOptions{Name: name})
	}
	for _, name := range []string{spec.CancelOrder, spec.ReleaseInventory, spec.RefundPayment} {
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

	// Mocked activities do not reach the fakes: record their start here.
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		f.recordMocked(info)
	})
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		f.recordMocked(info)
	})
}

func (f *orderFakes) recordMocked(info *activity.Info) {
	name := info.ActivityType.Name
	f.mu.Lock()
	mocked := f.mocked[name]
	if mocked {
		f.limits[name] = info.ScheduleToCloseTimeout
	}
	f.mu.Unlock()
	if mocked {
		f.Add(name, info)
	}
}

// slow replaces the activity with a mock that needs d of workflow time, so
// that a cancellation, a timeout or an abort can come first. The test
// environment measures activity timeouts on the wall clock, so the mock
// applies the ScheduleToClose the activity got, as the server would: when
// d exceeds it, the activity fails with a ScheduleToClose timeout once it
// passed; otherwise it succeeds after d. (The StartToClose is not
// modelled: a shorter one would time out the attempt first and retry it.)
func (f *orderFakes) slow(env *testsuite.TestWorkflowEnvironment, name string, d time.Duration) {
	f.mu.Lock()
	f.mocked[name] = true
	f.mu.Unlock()
	runs := func() time.Duration {
		f.mu.Lock()
		defer f.mu.Unlock()
		return timeoutAfter(f.limits[name], d)
	}
	timedOut := func(ctx context.Context) error {
		if timeoutAfter(activity.GetInfo(ctx).ScheduleToCloseTimeout, d) < d {
			return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, nil)
		}
		return nil
	}
	call := env.OnActivity(name, mock.Anything, mock.Anything).AfterFn(runs)
	switch name {
	case spec.Validate:
		call.Return(func(ctx context.Context, _ spec.ValidateInput) (spec.ValidateResult, error) {
			if err := timedOut(ctx); err != nil {
				return spec.ValidateResult{}, err
			}
			return priced(), nil
		})
	case spec.PublishEvent:
		call.Return(func(ctx context.Context, _ spec.PublishInput) (spec.PublishResult, error) {
			if err := timedOut(ctx); err != nil {
				return spec.PublishResult{}, err
			}
			return spec.PublishResult{EventID: "evt-slow"}, nil
		})
	case spec.VoidConfirm:
		panic("slow: VoidConfirm is not mocked")
	case spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder:
		call.Return(func(ctx context.Context, _ spec.Order) (spec.StepResult, error) {
			return spec.StepResult{}, timedOut(ctx)
		})
	default:
		call.Return(func(ctx context.Context, _ spec.Order) error { return timedOut(ctx) })
	}
}

// timeoutAfter is how long an activity that needs d runs with the
// ScheduleToClose limit (0: none).
func timeoutAfter(limit, d time.Duration) time.Duration {
	if limit > 0 && limit < d {
		return limit
	}
	return d
}

func newOrderEnv(t *testing.T, settings Settings, f *orderFakes) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second) // the StartToClose tests wait 10 s of wall time
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: OrderWorkflowID(testOrderID)})
	env.RegisterWorkflowWithOptions((&Orders{Settings: settings}).PlaceOrder, workflow.RegisterOptions{Name: PlaceOrderName})
	f.register(env)
	f.sa = sagatest.WatchSearchAttributes(env)
	// The order saga starts no timer: the saga timeout is the activities'
	// ScheduleToClose. The SDK waits between the attempts of a local
	// activity with one, up to ForwardOptions' MaximumInterval.
	f.WatchTimers(env)
	t.Cleanup(func() {
		for _, d := range f.Timers() {
			if !settings.LocalActivities || d > ForwardOptions.RetryPolicy.MaximumInterval {
				t.Errorf("the workflow started a timer of %v (timers %v); the order saga must start none", d, f.Timers())
				return
			}
		}
	})
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

// mustRunOrder is runOrder for a saga that must not fail.
func mustRunOrder(t *testing.T, env *testsuite.TestWorkflowEnvironment) *Outcome {
	t.Helper()
	out, err := runOrder(t, env, testInput())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	return out
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

// update sends an Update at the given workflow time and reports what became
// of it once the workflow is done.
type update struct {
	accepted, rejected, completed bool
	err                           error
}

func sendUpdate(env *testsuite.TestWorkflowEnvironment, at time.Duration, before func(), name string, args ...any) *update {
	u := &update{}
	env.RegisterDelayedCallback(func() {
		if before != nil {
			before()
		}
		env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept: func() { u.accepted = true },
			OnReject: func(err error) { u.rejected, u.err = true, err },
			OnComplete: func(_ any, err error) {
				u.completed = true
				if err != nil {
					u.err = err
				}
			},
		}, args...)
	}, at)
	return u
}

func (u *update) mustBeAccepted(t *testing.T, name string) {
	t.Helper()
	if !u.accepted || !u.completed || u.rejected || u.err != nil {
		t.Errorf("Update %s: %+v, want accepted and completed", name, *u)
	}
}

func (u *update) mustBeRejected(t *testing.T, name, with string) {
	t.Helper()
	if !u.rejected || u.accepted || u.completed || u.err == nil || !strings.Contains(u.err.Error(), with) {
		t.Errorf("Update %s: %+v, want rejected with %q", name, *u, with)
	}
}

func assertCalls(t *testing.T, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("activity calls:\n got  %q\n want %q", got, want)
	}
}

// assertOrderInputs checks that every database step and compensation got
// what it needs of the priced order of this saga, no more, and that only
// the compensations and VoidConfirm carry the reason: the whole order for the steps that
// store it or write its event, the products and quantities for the
// reserve step, the customer and total for the charge step, the ids for
// the others.
func assertOrderInputs(t *testing.T, f *orderFakes, reason string) {
	t.Helper()
	whole := spec.Order{SagaID: OrderWorkflowID(testOrderID), OrderID: testOrderID, CustomerID: testCustomerID,
		TotalCents: wantTotal, Lines: priced().Lines}
	ids := spec.Order{SagaID: whole.SagaID, OrderID: whole.OrderID}
	stock := ids
	for _, l := range whole.Lines {
		stock.Lines = append(stock.Lines, spec.Line{ProductID: l.ProductID, Quantity: l.Quantity})
	}
	payment := ids
	payment.CustomerID, payment.TotalCents = whole.CustomerID, whole.TotalCents
	cancel, undo := whole, ids
	cancel.Reason, undo.Reason = reason, reason
	for name, want := range map[string]spec.Order{
		spec.CreateOrder: whole, spec.ConfirmOrder: whole, spec.CancelOrder: cancel,
		spec.ReserveInventory: stock, spec.ChargePayment: payment,
		spec.ReleaseInventory: undo, spec.RefundPayment: undo, spec.VoidConfirm: ids,
	} {
		for _, o := range f.Orders(name) {
			if name == spec.VoidConfirm {
				// The reason of the confirm's failure: the saga's reason,
				// or none when the confirm had committed after all.
				if o.Reason == "" {
					t.Errorf("%s got no reason", name)
				}
				o.Reason = ""
			}
			if !reflect.DeepEqual(o, want) {
				t.Errorf("%s got order %+v, want %+v", name, o, want)
			}
		}
	}
}

// stepNames are the saga's steps as the state lists them.
var stepNames = []string{spec.StepValidate, spec.StepCreate, spec.StepReserve, spec.StepCharge, spec.StepConfirm, spec.StepPublish}

func names(st saga.State) []string {
	var out []string
	for _, s := range st.Steps {
		out = append(out, s.Name)
	}
	return out
}

func stepStatuses(st saga.State) []string {
	var out []string
	for _, s := range st.Steps {
		out = append(out, s.Status)
	}
	return out
}

func stepByName(t *testing.T, st saga.State, name string) saga.StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, st)
	return saga.StepState{}
}

// upsert is an upsert of SagaStatus, with SagaStep unless step is "", and
// other Keyword attributes as name, value pairs.
func upsert(status, step string, more ...string) map[string]string {
	m := map[string]string{saga.SagaStatus.GetName(): status}
	if step != "" {
		m[saga.SagaStep.GetName()] = step
	}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i]] = more[i+1]
	}
	return m
}

// firstUpsert is the order saga's first upsert: running at validate, with
// the order's business keys.
func firstUpsert() map[string]string {
	return upsert(saga.StatusRunning, spec.StepValidate, OrderIDKey.GetName(), testOrderID, CustomerIDKey.GetName(), testCustomerID)
}

// confirmedUpserts are the upserts of a confirmed order: two.
func confirmedUpserts() []map[string]string {
	return []map[string]string{firstUpsert(), upsert(saga.StatusCompleted, spec.StepConfirm)}
}

// cancelledUpserts are the upserts of an order whose step failed, its
// compensations succeeding.
func cancelledUpserts(failed string) []map[string]string {
	if failed == spec.StepValidate {
		failed = "" // upserted already
	}
	return []map[string]string{firstUpsert(), upsert(saga.StatusCompensating, failed), upsert(saga.StatusCompensated, "")}
}

func assertUpserts(t *testing.T, sa *sagatest.SearchAttributes, want []map[string]string) {
	t.Helper()
	if got := sa.All(); !reflect.DeepEqual(got, want) {
		t.Errorf("search attribute upserts\n got  %v\n want %v", got, want)
	}
}

// ---------------------------------------------------------------------------
// tests

// TestPlaceOrderHappyPath: every step once; two search attribute upserts
// and no timer, with or without a saga timeout. The saga timeout caps every
// forward activity's ScheduleToClose (and StartToClose, when longer) at the
// time left; the publish step, after the outcome, keeps its own.
func TestPlaceOrderHappyPath(t *testing.T) {
	publishTimeouts := sagatest.Timeouts{ScheduleToClose: 2 * time.Minute, StartToClose: 10 * time.Second}
	cases := []struct {
		name     string
		settings Settings
		forward  sagatest.Timeouts // of every forward activity
	}{
		{"no saga timeout", Settings{}, sagatest.Timeouts{ScheduleToClose: 3 * time.Minute, StartToClose: 10 * time.Second}},
		{"saga timeout", Settings{Timeout: time.Minute}, sagatest.Timeouts{ScheduleToClose: time.Minute, StartToClose: 10 * time.Second}},
		{"local activities", Settings{LocalActivities: true}, sagatest.Timeouts{ScheduleToClose: 3 * time.Minute, StartToClose: 10 * time.Second}},
		// A local activity shows the StartToClose the engine gave it (the
		// test environment caps a regular one's at its ScheduleToClose).
		{"local activities, saga timeout shorter than StartToClose", Settings{LocalActivities: true, Timeout: 5 * time.Second},
			sagatest.Timeouts{ScheduleToClose: 5 * time.Second, StartToClose: 5 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			env := newOrderEnv(t, tc.settings, f)
			out := mustRunOrder(t, env)
			kind := "@regular"
			if tc.settings.LocalActivities {
				kind = "@local"
			}
			assertCalls(t, f.Kinds(), []string{spec.Validate + kind, spec.CreateOrder + kind, spec.ReserveInventory + kind,
				spec.ChargePayment + kind, spec.ConfirmOrder + kind, publish(events.TypeConfirmed) + "@regular"})
			want := Outcome{OrderID: testOrderID, Status: Confirmed, TotalCents: wantTotal,
				EventID: "evt-" + events.TypeConfirmed, EventPublished: true}
			if !reflect.DeepEqual(*out, want) {
				t.Fatalf("outcome %+v, want %+v", *out, want)
			}
			assertOrderInputs(t, f, "")
			for _, a := range forwardActivities {
				if got := f.Timeouts(a); !reflect.DeepEqual(got, []sagatest.Timeouts{tc.forward}) {
					t.Errorf("%s got timeouts %+v, want %+v", a, got, tc.forward)
				}
			}
			if got := f.Timeouts(publish(events.TypeConfirmed)); !reflect.DeepEqual(got, []sagatest.Timeouts{publishTimeouts}) {
				t.Errorf("PublishEvent got timeouts %+v, want %+v", got, publishTimeouts)
			}

			st := queryState(t, env)
			if st.Status != saga.StatusCompleted || st.Step != "" || st.Reason != "" || st.FailedStep != "" || st.Error != "" ||
				!reflect.DeepEqual(names(st), stepNames) || !reflect.DeepEqual(stepStatuses(st), repeat(saga.StepDone, 6)) {
				t.Errorf("state %+v", st)
			}
			for _, s := range st.Steps {
				if s.StartedAt.IsZero() || s.EndedAt.IsZero() || s.Attempts != 1 || s.Error != "" || s.CompensationAttempts != 0 {
					t.Errorf("step %+v", s)
				}
			}
			assertUpserts(t, f.sa, confirmedUpserts())
			if timers := f.Timers(); len(timers) != 0 {
				t.Errorf("the workflow started timers %v, want none", timers)
			}
		})
	}
}

// TestPlaceOrderValidateRefused: validate is the saga's first step and has
// no compensation: a refusal writes nothing, compensates nothing and
// publishes nothing.
func TestPlaceOrderValidateRefused(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		attempts int
		reason   string
	}{
		{"business refusal", business(spec.ErrForeignKey, "customer c-1 does not exist"), 1, "ForeignKeyError: customer c-1 does not exist"},
		// A Validate that never succeeds refuses the order the same way.
		{"retries exhausted", infra(), 10, "DBUnavailable: connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			f.hooks[spec.Validate] = failAlways(tc.err)
			env := newOrderEnv(t, Settings{}, f)
			out := mustRunOrder(t, env)
			assertCalls(t, f.Calls(), repeat(spec.Validate, tc.attempts))
			want := Outcome{OrderID: testOrderID, Status: Cancelled, Reason: tc.reason}
			if !reflect.DeepEqual(*out, want) {
				t.Errorf("outcome %+v, want %+v: nothing priced or published", *out, want)
			}
			st := queryState(t, env)
			wantStatuses := []string{saga.StepFailed, saga.StepPending, saga.StepPending, saga.StepPending, saga.StepPending}
			if st.Status != saga.StatusCompensated || st.Reason != tc.reason || st.FailedStep != spec.StepValidate || st.Step != "" ||
				!reflect.DeepEqual(names(st), stepNames[:5]) || !reflect.DeepEqual(stepStatuses(st), wantStatuses) {
				t.Errorf("state %+v, want compensated with validate failed and no publish step", st)
			}
			if v := st.Steps[0]; v.Error != tc.reason || v.CompensationAttempts != 0 {
				t.Errorf("validate step %+v", v)
			}
			assertUpserts(t, f.sa, cancelledUpserts(spec.StepValidate))
		})
	}
}

// TestPlaceOrderInvalidInput: input outside the order's limits fails the
// workflow with a non-retryable InvalidInput error naming the field, before
// any activity runs (a quantity of 2^32+1 would be 1 in an int32 column).
func TestPlaceOrderInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*PlaceOrderInput)
		field  string
	}{
		{"bad order id", func(in *PlaceOrderInput) { in.OrderID = "bad id" }, "order_id"},
		{"quantity 2^32+1", func(in *PlaceOrderInput) { in.Items[0].Quantity = 4294967297 }, "items[0].quantity"},
		{"2000 items", func(in *PlaceOrderInput) {
			in.Items = make([]spec.Item, 2000)
			for i := range in.Items {
				in.Items[i] = spec.Item{SKU: "WIDGET", Quantity: 1}
			}
		}, "items"},
		{"customer id with a space", func(in *PlaceOrderInput) { in.CustomerID = "alice smith" }, "customer_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			env := newOrderEnv(t, Settings{}, f)
			in := testInput()
			tc.modify(&in)
			_, err := runOrder(t, env, in)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != spec.ErrInvalidInput || !app.NonRetryable() || !strings.Contains(app.Error(), tc.field) {
				t.Fatalf("workflow error %v, want InvalidInput naming %s", err, tc.field)
			}
			assertCalls(t, f.Calls(), nil)
			assertUpserts(t, f.sa, nil)
		})
	}
}

// failureKind is a way for a forward step to fail.
type failureKind struct {
	name     string
	settings Settings
	// setup makes the activity fail; it returns the activity's calls and
	// checks to run after the workflow.
	setup func(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, errType, msg string) (calls int, after func())
	// reason is the outcome's reason ("" to check it with reasonHas).
	reason    func(errType, msg string) string
	reasonHas []string
	// cancelled: the step's context was cancelled (the confirm step does
	// not ask VoidConfirm then).
	cancelled bool
	// endsAt, when set, is when the failed step ends, after the start.
	endsAt time.Duration
	// wallClock: the kind takes 10 s of wall time (see
	// TestPlaceOrderStartToCloseTimeout).
	wallClock bool
}

const abortReason = "customer called"

var failureKinds = []failureKind{
	{
		name: "business",
		setup: func(t *testing.T, _ *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, errType, msg string) (int, func()) {
			f.hooks[activity] = failAlways(business(errType, msg))
			return 1, nil
		},
		reason: func(errType, msg string) string { return errType + ": " + msg },
	},
	{
		name: "retries exhausted",
		setup: func(t *testing.T, _ *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, _, _ string) (int, func()) {
			f.hooks[activity] = failAlways(infra())
			return 10, nil
		},
		reason: func(string, string) string { return "DBUnavailable: connection refused" },
	},
	{
		// Activities run on the wall clock in the test environment: this
		// kind takes 10 s. The test environment does not retry an attempt
		// that timed out (a real server would retry it up to
		// MaximumAttempts).
		name:      "start-to-close timeout",
		wallClock: true,
		setup: func(t *testing.T, _ *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, _, _ string) (int, func()) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			f.hooks[activity] = func(ctx context.Context, _ int32) error {
				select {
				case <-ctx.Done(): // the StartToClose deadline
					return ctx.Err()
				case <-release:
					return nil
				}
			}
			return 1, nil
		},
		reasonHas: []string{"timeout: ", "StartToClose"},
	},
	{
		name: "workflow cancelled",
		setup: func(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, _, _ string) (int, func()) {
			f.slow(env, activity, 10*time.Minute)
			env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
			return 1, nil
		},
		reason:    func(string, string) string { return saga.ErrCancelled.Error() },
		cancelled: true,
		endsAt:    time.Minute,
	},
	{
		// No timer: the activity needs longer than the time left, so its
		// ScheduleToClose, capped at the deadline, times it out then. The
		// step's context is not cancelled: the confirm step asks
		// VoidConfirm.
		name:     "saga timeout",
		settings: Settings{Timeout: time.Minute},
		setup: func(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, _, _ string) (int, func()) {
			f.slow(env, activity, 2*time.Minute)
			return 1, func() {
				want := []sagatest.Timeouts{{ScheduleToClose: time.Minute, StartToClose: 10 * time.Second}} // the steps before took no time
				if got := f.Timeouts(activity); !reflect.DeepEqual(got, want) {
					t.Errorf("%s got timeouts %+v, want %+v", activity, got, want)
				}
			}
		},
		reason: func(string, string) string { return "saga timeout passed (1m0s)" },
		endsAt: time.Minute,
	},
	{
		name: "operator abort",
		setup: func(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *orderFakes, activity, _, _ string) (int, func()) {
			f.slow(env, activity, 10*time.Minute)
			u := sendUpdate(env, time.Minute, nil, saga.UpdateCompensate, abortReason)
			return 1, func() { u.mustBeAccepted(t, saga.UpdateCompensate) }
		},
		reason:    func(string, string) string { return "aborted by operator: " + abortReason },
		cancelled: true,
		endsAt:    time.Minute,
	},
}

// forwardSteps are the saga's forward steps: the activity, a business
// failure of it, and the compensations that must run when it fails, in
// order.
var forwardSteps = []struct {
	step     string
	activity string
	errType  string
	msg      string
	comps    []string
}{
	{spec.StepValidate, spec.Validate, spec.ErrForeignKey, "customer c-1 does not exist", nil},
	{spec.StepCreate, spec.CreateOrder, spec.ErrOrderState, "order o-1 exists already",
		seq(spec.CancelOrder)},
	{spec.StepReserve, spec.ReserveInventory, spec.ErrOutOfStock, "sku-a: 1 left, 2 wanted",
		seq(spec.ReleaseInventory, spec.CancelOrder)},
	{spec.StepCharge, spec.ChargePayment, spec.ErrInsufficientFunds, "balance 100 < 3697",
		seq(spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder)},
	{spec.StepConfirm, spec.ConfirmOrder, spec.ErrOrderState, "order o-1 is not pending",
		seq(spec.VoidConfirm, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder)},
}

var forwardActivities = []string{spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder}

// TestPlaceOrderStepFails: every forward step × every way to fail. The
// compensations of every step registered so far run in reverse order, the
// failed step's own one included; order.cancelled is published unless
// validate failed, when nothing was written.
func TestPlaceOrderStepFails(t *testing.T) {
	for _, st := range forwardSteps {
		for _, k := range failureKinds {
			if k.wallClock {
				continue // TestPlaceOrderStartToCloseTimeout
			}
			t.Run(st.step+"/"+k.name, func(t *testing.T) {
				r := startStepFails(t, k, Settings{}, st.activity, st.errType, st.msg)
				r.run()
				checkStepFails(t, k, Settings{}, st.step, st.activity, st.errType, st.msg, st.comps, r)
			})
		}
	}
}

// TestPlaceOrderStartToCloseTimeout: TestPlaceOrderStepFails for the kinds
// that take 10 s of wall time, every step's saga at once (t.Parallel would
// run only GOMAXPROCS of them at a time).
func TestPlaceOrderStartToCloseTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 10 s of wall time")
	}
	t.Parallel()
	type job struct {
		name string
		k    failureKind
		st   int
		r    *stepRun
	}
	var jobs []*job
	for i, st := range forwardSteps {
		for _, k := range failureKinds {
			if k.wallClock {
				jobs = append(jobs, &job{name: st.step + "/" + k.name, k: k, st: i, r: startStepFails(t, k, Settings{}, st.activity, st.errType, st.msg)})
			}
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(j.r.run)
	}
	wg.Wait()
	for _, j := range jobs {
		st := forwardSteps[j.st]
		t.Run(j.name, func(t *testing.T) {
			checkStepFails(t, j.k, Settings{}, st.step, st.activity, st.errType, st.msg, st.comps, j.r)
		})
	}
}

// TestPlaceOrderStepFailsParallel: the same with ParallelCompensation: the
// same compensations, all at once (so in any order), before the publish.
func TestPlaceOrderStepFailsParallel(t *testing.T) {
	for _, st := range forwardSteps {
		for _, k := range failureKinds {
			if k.name == "start-to-close timeout" || k.name == "retries exhausted" {
				continue // the same as business once the step failed
			}
			t.Run(st.step+"/"+k.name, func(t *testing.T) {
				settings := Settings{ParallelCompensation: true}
				r := startStepFails(t, k, settings, st.activity, st.errType, st.msg)
				r.run()
				checkStepFails(t, k, settings, st.step, st.activity, st.errType, st.msg, st.comps, r)
			})
		}
	}
}

// TestPlaceOrderSagaTimeoutBeforeStep: the deadline passes during a step
// whose activity needs all the time left (it ends at the deadline, within
// its ScheduleToClose); the next step begins after the deadline and fails
// with the saga timeout without running its activity. Its compensation was
// registered before, so it runs with the others. When the step ending at
// the deadline is the last, the order is confirmed.
func TestPlaceOrderSagaTimeoutBeforeStep(t *testing.T) {
	const reason = "saga timeout passed (1m0s)"
	for i, st := range forwardSteps {
		t.Run(st.step, func(t *testing.T) {
			f := newFakes()
			env := newOrderEnv(t, Settings{Timeout: time.Minute}, f)
			f.slow(env, st.activity, time.Minute)
			out := mustRunOrder(t, env)
			if got, want := f.Timeouts(st.activity), []sagatest.Timeouts{{ScheduleToClose: time.Minute, StartToClose: 10 * time.Second}}; !reflect.DeepEqual(got, want) {
				t.Errorf("%s got timeouts %+v, want %+v", st.activity, got, want)
			}
			if i == len(forwardSteps)-1 {
				assertCalls(t, f.Calls(), seq(forwardActivities, publish(events.TypeConfirmed)))
				if out.Status != Confirmed || out.Reason != "" || !out.EventPublished {
					t.Errorf("outcome %+v, want confirmed", out)
				}
				assertUpserts(t, f.sa, confirmedUpserts())
				return
			}
			next := forwardSteps[i+1]
			assertCalls(t, f.Calls(), seq(forwardActivities[:i+1], next.comps, publish(events.TypeCancelled)))
			want := Outcome{OrderID: testOrderID, Status: Cancelled, Reason: reason, TotalCents: wantTotal,
				EventID: "evt-" + events.TypeCancelled, EventPublished: true}
			if !reflect.DeepEqual(*out, want) {
				t.Errorf("outcome %+v, want %+v", *out, want)
			}
			assertOrderInputs(t, f, reason)

			state := queryState(t, env)
			wantStatuses := []string{saga.StepDone}
			for k := 1; k < len(forwardSteps); k++ {
				if k <= i+1 {
					wantStatuses = append(wantStatuses, saga.StepCompensated)
				} else {
					wantStatuses = append(wantStatuses, saga.StepPending)
				}
			}
			wantStatuses = append(wantStatuses, saga.StepDone) // publish_event
			if state.Status != saga.StatusCompensated || state.Reason != reason || state.FailedStep != next.step ||
				!reflect.DeepEqual(stepStatuses(state), wantStatuses) {
				t.Errorf("state %+v\nwant compensated, failed step %s, statuses %q", state, next.step, wantStatuses)
			}
			failed := state.Steps[i+1]
			begun := failed.StartedAt.Sub(state.Steps[0].StartedAt)
			if failed.Error != reason || failed.Attempts != 1 || begun != time.Minute || !failed.EndedAt.Equal(failed.StartedAt) {
				t.Errorf("step %s %+v (begun %v after the start), want failed at once at the deadline", next.step, failed, begun)
			}
			assertUpserts(t, f.sa, cancelledUpserts(next.step))
		})
	}
}

// stepRun is one order saga whose step fails some way.
type stepRun struct {
	env   *testsuite.TestWorkflowEnvironment
	f     *orderFakes
	start time.Time
	calls int    // the failing activity's
	after func() // checks of the failure kind
	// the outcome
	completed bool
	out       Outcome
	err       error
}

func startStepFails(t *testing.T, k failureKind, settings Settings, act, errType, msg string) *stepRun {
	r := &stepRun{f: newFakes()}
	settings.Timeout = k.settings.Timeout
	r.env = newOrderEnv(t, settings, r.f)
	r.start = r.env.Now()
	r.calls, r.after = k.setup(t, r.env, r.f, act, errType, msg)
	return r
}

// run runs the saga; it may run on another goroutine than the test's.
func (r *stepRun) run() {
	r.env.ExecuteWorkflow(PlaceOrderName, testInput())
	if r.completed = r.env.IsWorkflowCompleted(); !r.completed {
		return
	}
	if r.err = r.env.GetWorkflowError(); r.err == nil {
		r.err = r.env.GetWorkflowResult(&r.out)
	}
}

func checkStepFails(t *testing.T, k failureKind, settings Settings, step, act, errType, msg string, comps []string, r *stepRun) {
	t.Helper()
	if !r.completed || r.err != nil {
		t.Fatalf("workflow completed %v, error %v", r.completed, r.err)
	}
	if r.after != nil {
		r.after()
	}
	f, env, start, calls, out := r.f, r.env, r.start, r.calls, &r.out

	var want []string
	for _, a := range forwardActivities {
		if a == act {
			break
		}
		want = append(want, a)
	}
	want = append(want, repeat(act, calls)...)
	if act == spec.ConfirmOrder && !k.cancelled {
		want = append(want, spec.VoidConfirm) // the confirm wrapper asks whether it committed
	}
	want = append(want, comps...)
	validateFailed := step == spec.StepValidate
	if !validateFailed {
		want = append(want, publish(events.TypeCancelled))
	}
	got := f.Calls()
	if settings.ParallelCompensation {
		// The compensations as a set, between the actions and the publish.
		n := len(comps)
		end := len(got)
		if !validateFailed {
			end--
		}
		if end-n >= 0 && end <= len(want) {
			slices.Sort(got[end-n : end])
			slices.Sort(want[end-n : end])
		}
	}
	assertCalls(t, got, want)

	reason := out.Reason
	if k.reason != nil {
		reason = k.reason(errType, msg)
	}
	for _, s := range k.reasonHas {
		if !strings.Contains(out.Reason, s) {
			t.Errorf("reason %q does not contain %q", out.Reason, s)
		}
	}
	wantOut := Outcome{OrderID: testOrderID, Status: Cancelled, Reason: reason, TotalCents: wantTotal,
		EventID: "evt-" + events.TypeCancelled, EventPublished: true}
	if validateFailed {
		wantOut.TotalCents, wantOut.EventID, wantOut.EventPublished = 0, "", false
	}
	if !reflect.DeepEqual(*out, wantOut) {
		t.Errorf("outcome %+v, want %+v", *out, wantOut)
	}
	if cancels := f.Orders(spec.CancelOrder); !validateFailed && (len(cancels) != 1 || cancels[0].Reason != reason) {
		t.Errorf("CancelOrder inputs %+v, want one with reason %q", cancels, reason)
	}
	assertOrderInputs(t, f, reason)

	// The state: the steps before compensated (validate has nothing to
	// compensate), the failed one compensated, the later ones pending.
	st := queryState(t, env)
	k0 := slices.Index(stepNames, step)
	var wantStatuses []string
	for i := range stepNames[:5] {
		switch {
		case i == 0 && validateFailed:
			wantStatuses = append(wantStatuses, saga.StepFailed)
		case i == 0:
			wantStatuses = append(wantStatuses, saga.StepDone)
		case i <= k0:
			wantStatuses = append(wantStatuses, saga.StepCompensated)
		default:
			wantStatuses = append(wantStatuses, saga.StepPending)
		}
	}
	wantNames := stepNames
	if validateFailed {
		wantNames = stepNames[:5]
	} else {
		wantStatuses = append(wantStatuses, saga.StepDone) // publish_event
	}
	if st.Status != saga.StatusCompensated || st.Reason != reason || st.FailedStep != step || st.Step != "" || st.Error != "" ||
		!reflect.DeepEqual(names(st), wantNames) || !reflect.DeepEqual(stepStatuses(st), wantStatuses) {
		t.Errorf("state %+v\nwant compensated, failed step %s, reason %q, statuses %q", st, step, reason, wantStatuses)
	}
	failed := st.Steps[k0]
	if failed.Error != reason || failed.Attempts != 1 {
		t.Errorf("failed step %+v, want error %q", failed, reason)
	}
	if k.endsAt > 0 {
		if ended := failed.EndedAt.Sub(start); ended != k.endsAt {
			t.Errorf("step %s ended %v after the start, want %v", step, ended, k.endsAt)
		}
	}
	for _, s := range st.Steps {
		if (s.Status == saga.StepCompensated) != !s.CompensatedAt.IsZero() {
			t.Errorf("step %s: %+v", s.Name, s)
		}
	}
	assertUpserts(t, f.sa, cancelledUpserts(step))
}

// TestPlaceOrderConfirmCommittedDespiteError: ConfirmOrder reports a failure
// but VoidConfirm finds it had committed: the order is confirmed and nothing
// is compensated. That holds for a ConfirmOrder timed out by the saga's
// deadline too: its context is not cancelled, so the confirm step asks
// VoidConfirm, after the deadline.
func TestPlaceOrderConfirmCommittedDespiteError(t *testing.T) {
	for _, k := range []struct {
		name     string
		err      error
		attempts int
		timeout  time.Duration // the saga's; ConfirmOrder then needs twice as long
	}{
		{"business", business(spec.ErrOrderState, "lost response"), 1, 0},
		{"retries exhausted", infra(), 10, 0},
		{"saga timeout", nil, 1, time.Minute},
	} {
		t.Run(k.name, func(t *testing.T) {
			f := newFakes()
			f.voidConfirmed = true
			env := newOrderEnv(t, Settings{Timeout: k.timeout}, f)
			if k.timeout > 0 {
				f.slow(env, spec.ConfirmOrder, 2*k.timeout)
			} else {
				f.hooks[spec.ConfirmOrder] = failAlways(k.err)
			}
			out := mustRunOrder(t, env)
			assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment,
				repeat(spec.ConfirmOrder, k.attempts), spec.VoidConfirm, publish(events.TypeConfirmed)))
			want := Outcome{OrderID: testOrderID, Status: Confirmed, TotalCents: wantTotal, EventID: "evt-" + events.TypeConfirmed, EventPublished: true}
			if !reflect.DeepEqual(*out, want) {
				t.Fatalf("outcome %+v, want %+v", *out, want)
			}
			st := queryState(t, env)
			if st.Status != saga.StatusCompleted || !reflect.DeepEqual(stepStatuses(st), repeat(saga.StepDone, 6)) {
				t.Errorf("state %+v, want completed", st)
			}
			if ended := stepByName(t, st, spec.StepConfirm).EndedAt.Sub(st.Steps[0].StartedAt); k.timeout > 0 && ended != k.timeout {
				t.Errorf("confirm ended %v after the start, want at the deadline", ended)
			}
			assertUpserts(t, f.sa, confirmedUpserts())
		})
	}
}

// TestPlaceOrderPublishFails: the publish step runs after the outcome is
// decided; when it fails the event stays in the outbox, the outcome says
// so, and the saga's status does not change.
func TestPlaceOrderPublishFails(t *testing.T) {
	f := newFakes()
	f.hooks[spec.PublishEvent] = failAlways(business("NATSUnavailable", "no responders"))
	env := newOrderEnv(t, Settings{}, f)
	out := mustRunOrder(t, env)
	assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder,
		publish(events.TypeConfirmed)))
	want := Outcome{OrderID: testOrderID, Status: Confirmed, TotalCents: wantTotal}
	if !reflect.DeepEqual(*out, want) {
		t.Errorf("outcome %+v, want %+v", *out, want)
	}
	st := queryState(t, env)
	if pub := stepByName(t, st, spec.StepPublish); st.Status != saga.StatusCompleted || pub.Status != saga.StepFailed ||
		pub.Error != "NATSUnavailable: no responders" {
		t.Errorf("state %+v, want completed with publish_event failed", st)
	}
	assertUpserts(t, f.sa, confirmedUpserts())
}

// TestPlaceOrderPublishTimeout: Settings.PublishTimeout bounds the publish
// step's retries (ScheduleToClose); after it the event stays in the outbox.
// The test environment caps unbounded retries at 10 attempts.
func TestPlaceOrderPublishTimeout(t *testing.T) {
	cases := []struct {
		timeout  time.Duration
		attempts int // at 0, 0.2, 0.6, 1.4, 3, 6.2, 12.6, 22.6 s…
	}{
		{5 * time.Second, 5},
		{30 * time.Second, 8},
	}
	for _, tc := range cases {
		t.Run(tc.timeout.String(), func(t *testing.T) {
			f := newFakes()
			f.hooks[spec.PublishEvent] = failAlways(temporal.NewApplicationError("no responders", "NATSUnavailable"))
			env := newOrderEnv(t, Settings{PublishTimeout: tc.timeout}, f)
			out := mustRunOrder(t, env)
			if n := f.count(publish(events.TypeConfirmed)); n != tc.attempts {
				t.Errorf("PublishEvent ran %d times, want %d", n, tc.attempts)
			}
			if out.Status != Confirmed || out.EventPublished || out.EventID != "" {
				t.Errorf("outcome %+v, want confirmed and not published", out)
			}
		})
	}
}

// TestPlaceOrderCompensationFails: a compensation that keeps failing puts
// the saga in compensation_failed: the workflow keeps running, nothing is
// published, and an operator's Update decides: retry-compensation (after
// fixing the cause) or resolve (fixed by hand).
func TestPlaceOrderCompensationFails(t *testing.T) {
	prefix := seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment)
	const resolution = "refunded by hand"
	cases := []struct {
		name     string
		settings Settings
		hooks    map[string]hook
		failing  string   // the activity fixed before the Update
		failStep string   // the step whose compensation fails
		waiting  []string // the calls when the operator looks
		update   string
		args     []any
		calls    []string // in all
		statuses []string // of the state in the end
		resolved []string
	}{
		{
			name:     "retried after the fix",
			hooks:    map[string]hook{spec.RefundPayment: failAlways(business("RefundRejected", "card closed"))},
			failing:  spec.RefundPayment,
			failStep: spec.StepCharge,
			waiting:  seq(prefix, spec.RefundPayment),
			update:   saga.UpdateRetryCompensation,
			calls:    seq(prefix, spec.RefundPayment, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepPending, saga.StepDone},
		},
		{
			name:     "resolved by hand",
			hooks:    map[string]hook{spec.RefundPayment: failAlways(business("RefundRejected", "card closed"))},
			failStep: spec.StepCharge,
			waiting:  seq(prefix, spec.RefundPayment),
			update:   saga.UpdateResolve,
			args:     []any{resolution},
			calls:    seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepResolved, saga.StepPending, saga.StepDone},
			resolved: []string{spec.StepCharge},
		},
		{
			// Retried until the CompensationTimeout (its ScheduleToClose)
			// passes: attempts at 0, 0.2, 0.6, 1.4, 3, 6.2, 12.6, 25.4 and
			// 51 s; the next one (30 s later) would start after 1 minute.
			name:     "retryable until CompensationTimeout, then resolved",
			settings: Settings{CompensationTimeout: time.Minute},
			hooks:    map[string]hook{spec.RefundPayment: failAlways(infra())},
			failStep: spec.StepCharge,
			waiting:  seq(prefix, repeat(spec.RefundPayment, 9)),
			update:   saga.UpdateResolve,
			args:     []any{resolution},
			calls:    seq(prefix, repeat(spec.RefundPayment, 9), spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepResolved, saga.StepPending, saga.StepDone},
			resolved: []string{spec.StepCharge},
		},
		{
			name:     "ContinueWithError compensates the rest before waiting",
			settings: Settings{ContinueWithError: true},
			hooks:    map[string]hook{spec.RefundPayment: failAlways(business("RefundRejected", "card closed"))},
			failStep: spec.StepCharge,
			waiting:  seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder),
			update:   saga.UpdateResolve,
			args:     []any{resolution},
			calls:    seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepResolved, saga.StepPending, saga.StepDone},
			resolved: []string{spec.StepCharge},
		},
		{
			name:     "ContinueWithError, retried after the fix",
			settings: Settings{ContinueWithError: true},
			hooks:    map[string]hook{spec.RefundPayment: failAlways(business("RefundRejected", "card closed"))},
			failing:  spec.RefundPayment,
			failStep: spec.StepCharge,
			waiting:  seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder),
			update:   saga.UpdateRetryCompensation,
			calls:    seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, spec.RefundPayment, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepPending, saga.StepDone},
		},
		{
			// Another step's compensation than the failed step's: SagaStep
			// names it with compensation_failed, and the failed step again
			// with compensated.
			name:     "an earlier step's compensation, retried after the fix",
			hooks:    map[string]hook{spec.ReleaseInventory: failAlways(business("ReleaseRejected", "stock locked"))},
			failing:  spec.ReleaseInventory,
			failStep: spec.StepReserve,
			waiting:  seq(prefix, spec.RefundPayment, spec.ReleaseInventory),
			update:   saga.UpdateRetryCompensation,
			calls:    seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepPending, saga.StepDone},
		},
		{
			name:     "an earlier step's compensation, resolved by hand",
			hooks:    map[string]hook{spec.ReleaseInventory: failAlways(business("ReleaseRejected", "stock locked"))},
			failStep: spec.StepReserve,
			waiting:  seq(prefix, spec.RefundPayment, spec.ReleaseInventory),
			update:   saga.UpdateResolve,
			args:     []any{resolution},
			calls:    seq(prefix, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepResolved, saga.StepCompensated, saga.StepPending, saga.StepDone},
			resolved: []string{spec.StepReserve},
		},
		{
			name:     "parallel: the others ran, the failed one is retried",
			settings: Settings{ParallelCompensation: true},
			hooks:    map[string]hook{spec.RefundPayment: failAlways(business("RefundRejected", "card closed"))},
			failing:  spec.RefundPayment,
			failStep: spec.StepCharge,
			waiting:  seq(prefix, spec.CancelOrder, spec.RefundPayment, spec.ReleaseInventory), // sorted
			update:   saga.UpdateRetryCompensation,
			calls:    seq(prefix, spec.CancelOrder, spec.RefundPayment, spec.ReleaseInventory, spec.RefundPayment, publish(events.TypeCancelled)),
			statuses: []string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepPending, saga.StepDone},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			f.hooks[spec.ChargePayment] = failAlways(business(spec.ErrInsufficientFunds, "balance 100 < 3697"))
			addHooks(f.hooks, tc.hooks)
			env := newOrderEnv(t, tc.settings, f)
			look := func() {
				if env.IsWorkflowCompleted() {
					t.Error("the workflow completed; it must wait for an operator")
				}
				got := f.Calls()
				if tc.settings.ParallelCompensation {
					if len(got) > len(prefix) {
						slices.Sort(got[len(prefix):])
					}
				}
				if !reflect.DeepEqual(got, tc.waiting) {
					t.Errorf("calls while waiting\n got  %q\n want %q", got, tc.waiting)
				}
				st := queryState(t, env)
				for _, s := range []string{"SagaCompensationError", "compensation of step " + tc.failStep} {
					if !strings.Contains(st.Error, s) {
						t.Errorf("state error %q does not contain %q", st.Error, s)
					}
				}
				if st.Status != saga.StatusCompensationFailed || stepByName(t, st, tc.failStep).Status != saga.StepCompensationFailed {
					t.Errorf("state %+v, want compensation_failed at %s", st, tc.failStep)
				}
				f.Fix(tc.failing)
			}
			u := sendUpdate(env, time.Hour, look, tc.update, tc.args...)
			out := mustRunOrder(t, env)
			u.mustBeAccepted(t, tc.update)

			got := f.Calls()
			if tc.settings.ParallelCompensation {
				if len(got) >= len(prefix)+3 {
					slices.Sort(got[len(prefix) : len(prefix)+3])
				}
			}
			assertCalls(t, got, tc.calls)
			reason := "InsufficientFundsError: balance 100 < 3697"
			want := Outcome{OrderID: testOrderID, Status: Cancelled, Reason: reason, TotalCents: wantTotal,
				EventID: "evt-" + events.TypeCancelled, EventPublished: true, Resolved: tc.resolved}
			if !reflect.DeepEqual(*out, want) {
				t.Errorf("outcome %+v, want %+v", *out, want)
			}
			st := queryState(t, env)
			if st.Status != saga.StatusCompensated || st.Error != "" || !reflect.DeepEqual(stepStatuses(st), tc.statuses) {
				t.Errorf("state %+v, want compensated with %q", st, tc.statuses)
			}
			failed := stepByName(t, st, tc.failStep)
			if tc.resolved != nil && (failed.Resolution != resolution || failed.CompensationError == "") {
				t.Errorf("resolved step %+v", failed)
			}
			// charge_payment failed: SagaStep names it with compensating;
			// the step whose compensation failed, when another, with
			// compensation_failed; then charge_payment again with
			// compensated.
			upserts := []map[string]string{firstUpsert(), upsert(saga.StatusCompensating, spec.StepCharge),
				upsert(saga.StatusCompensationFailed, ""), upsert(saga.StatusCompensating, ""), upsert(saga.StatusCompensated, "")}
			if tc.failStep != spec.StepCharge {
				upserts[2], upserts[4] = upsert(saga.StatusCompensationFailed, tc.failStep), upsert(saga.StatusCompensated, spec.StepCharge)
			}
			assertUpserts(t, f.sa, upserts)
		})
	}
}

func addHooks(dst, src map[string]hook) {
	for k, v := range src {
		dst[k] = v
	}
}

// TestPlaceOrderConfirmedBeforeAbort: the confirm had committed when an
// operator aborted the saga: VoidConfirm reports it, the confirm step's
// compensation fails with ConfirmCommittedError, and the saga waits for the
// operator.
func TestPlaceOrderConfirmedBeforeAbort(t *testing.T) {
	f := newFakes()
	f.voidConfirmed = true
	env := newOrderEnv(t, Settings{}, f)
	f.slow(env, spec.ConfirmOrder, 10*time.Minute)
	abort := sendUpdate(env, time.Minute, nil, saga.UpdateCompensate, abortReason)
	resolve := sendUpdate(env, time.Hour, func() {
		st := queryState(t, env)
		if st.Status != saga.StatusCompensationFailed || !strings.Contains(st.Error, spec.ErrConfirmCommitted) ||
			!strings.Contains(st.Error, "compensation of step "+spec.StepConfirm) {
			t.Errorf("state %+v, want compensation_failed with %s", st, spec.ErrConfirmCommitted)
		}
	}, saga.UpdateResolve, "order kept, customer refunded by hand")
	out := mustRunOrder(t, env)
	abort.mustBeAccepted(t, saga.UpdateCompensate)
	resolve.mustBeAccepted(t, saga.UpdateResolve)
	assertCalls(t, f.Calls(), seq(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder,
		spec.VoidConfirm, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)))
	if out.Status != Cancelled || !reflect.DeepEqual(out.Resolved, []string{spec.StepConfirm}) || out.Reason != "aborted by operator: "+abortReason {
		t.Errorf("outcome %+v", out)
	}
	// confirm_order failed and its own compensation failed: SagaStep once.
	assertUpserts(t, f.sa, []map[string]string{firstUpsert(), upsert(saga.StatusCompensating, spec.StepConfirm),
		upsert(saga.StatusCompensationFailed, ""), upsert(saga.StatusCompensating, ""), upsert(saga.StatusCompensated, "")})
}

// TestPlaceOrderUpdateValidators: Updates that do not fit the saga's state
// are rejected and change nothing: the state stays the same and the order
// ends as it would have without them.
func TestPlaceOrderUpdateValidators(t *testing.T) {
	cases := []struct {
		name   string
		slow   string // the activity in progress from 0 to 100 s (within its ScheduleToClose)
		update string
		args   []any
		reject string
	}{
		{"compensate without reason", spec.ChargePayment, saga.UpdateCompensate, []any{""}, "a reason is required"},
		{"compensate a completed saga", spec.PublishEvent, saga.UpdateCompensate, []any{"too late"}, "saga is completed: only a running saga can be aborted"},
		{"retry-compensation while running", spec.ChargePayment, saga.UpdateRetryCompensation, nil, "saga is running: retry-compensation applies to a saga in compensation_failed"},
		{"resolve while running", spec.ChargePayment, saga.UpdateResolve, []any{"fixed"}, "saga is running: resolve applies to a saga in compensation_failed"},
		{"resolve a completed saga", spec.PublishEvent, saga.UpdateResolve, []any{"fixed"}, "saga is completed: resolve applies"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := func(withUpdate bool) (*Outcome, []string, saga.State) {
				f := newFakes()
				env := newOrderEnv(t, Settings{}, f)
				f.slow(env, tc.slow, 100*time.Second)
				var u *update
				if withUpdate {
					var before saga.State
					u = sendUpdate(env, time.Minute, func() { before = queryState(t, env) }, tc.update, tc.args...)
					env.RegisterDelayedCallback(func() {
						if after := queryState(t, env); !reflect.DeepEqual(after, before) {
							t.Errorf("state after the rejected Update\n %+v\nbefore\n %+v", after, before)
						}
					}, 90*time.Second)
				}
				out := mustRunOrder(t, env)
				if u != nil {
					u.mustBeRejected(t, tc.update, tc.reject)
				}
				st := queryState(t, env)
				st.UpdatedAt = time.Time{}
				for i := range st.Steps {
					st.Steps[i].StartedAt, st.Steps[i].EndedAt = time.Time{}, time.Time{}
				}
				return out, f.Calls(), st
			}
			wantOut, wantCalls, wantState := run(false)
			out, calls, st := run(true)
			if !reflect.DeepEqual(out, wantOut) || wantOut.Status != Confirmed {
				t.Errorf("outcome %+v, want %+v as without the Update", out, wantOut)
			}
			if !reflect.DeepEqual(calls, wantCalls) || !reflect.DeepEqual(st, wantState) {
				t.Errorf("calls %q state %+v\nwant as without the Update: %q %+v", calls, st, wantCalls, wantState)
			}
		})
	}
}

// TestPlaceOrderLocalActivities: with Settings.LocalActivities the forward
// steps run as local activities, and the compensations and the publish
// stay regular activities; with Settings.AllLocal too (saga.mode =
// "local"), every activity is local.
func TestPlaceOrderLocalActivities(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllLocal=%v", all), func(t *testing.T) {
			testPlaceOrderLocalActivities(t, Settings{LocalActivities: true, AllLocal: all})
		})
	}
}

func testPlaceOrderLocalActivities(t *testing.T, settings Settings) {
	kind := func(suffix string) func(names ...string) []string {
		return func(names ...string) []string {
			var out []string
			for _, n := range names {
				out = append(out, n+suffix)
			}
			return out
		}
	}
	local, regular := kind("@local"), kind("@regular")
	if settings.AllLocal {
		regular = local
	}
	cases := []struct {
		name   string
		hooks  map[string]hook
		slow   string // aborted at 1 minute
		status string
		calls  []string
	}{
		{"happy path", nil, "", Confirmed,
			seq(local(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder),
				regular(publish(events.TypeConfirmed)))},
		{"validate refused", map[string]hook{spec.Validate: failAlways(business(spec.ErrForeignKey, "no customer"))}, "", Cancelled,
			local(spec.Validate)},
		{"reserve fails", map[string]hook{spec.ReserveInventory: failAlways(business(spec.ErrOutOfStock, "0 left"))}, "", Cancelled,
			seq(local(spec.Validate, spec.CreateOrder, spec.ReserveInventory),
				regular(spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)))},
		{"confirm fails", map[string]hook{spec.ConfirmOrder: failAlways(business(spec.ErrOrderState, "not pending"))}, "", Cancelled,
			// VoidConfirm runs with its own options, so that even past the
			// saga's deadline it learns what happened.
			seq(local(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder),
				regular(spec.VoidConfirm, spec.VoidConfirm, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)))},
		{"charge aborted", nil, spec.ChargePayment, Cancelled,
			seq(local(spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment),
				regular(spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, publish(events.TypeCancelled)))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			addHooks(f.hooks, tc.hooks)
			env := newOrderEnv(t, settings, f)
			var u *update
			if tc.slow != "" {
				f.slow(env, tc.slow, 10*time.Minute)
				u = sendUpdate(env, time.Minute, nil, saga.UpdateCompensate, abortReason)
			}
			out := mustRunOrder(t, env)
			if u != nil {
				u.mustBeAccepted(t, saga.UpdateCompensate)
			}
			assertCalls(t, f.Kinds(), tc.calls)
			if out.Status != tc.status {
				t.Errorf("outcome %+v, want %s", out, tc.status)
			}
			if tc.status == Confirmed && !reflect.DeepEqual(*out, Outcome{OrderID: testOrderID, Status: Confirmed, TotalCents: wantTotal,
				EventID: "evt-" + events.TypeConfirmed, EventPublished: true}) {
				t.Errorf("outcome %+v", out)
			}
			assertOrderInputs(t, f, out.Reason)
		})
	}
}

// TestPlaceOrderLocalFirstUndoRegular: in local mode with parallel
// compensations or ContinueWithError, the first undo runs as a regular
// activity (see orderRun.undoing) and the others, local, after it.
func TestPlaceOrderLocalFirstUndoRegular(t *testing.T) {
	for name, settings := range map[string]Settings{
		"parallel":            {LocalActivities: true, AllLocal: true, ParallelCompensation: true},
		"continue with error": {LocalActivities: true, AllLocal: true, ContinueWithError: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakes()
			f.hooks[spec.ChargePayment] = failAlways(business(spec.ErrInsufficientFunds, "no money"))
			env := newOrderEnv(t, settings, f)
			if out := mustRunOrder(t, env); out.Status != Cancelled {
				t.Fatalf("outcome %+v", out)
			}
			kinds := f.Kinds()
			undos := kinds[4 : len(kinds)-1] // after validate, create, reserve, charge; before the publish
			var regular []string
			for _, k := range undos {
				if strings.HasSuffix(k, "@regular") {
					regular = append(regular, k)
				}
			}
			if len(undos) != 3 || len(regular) != 1 || regular[0] != undos[0] || kinds[len(kinds)-1] != publish(events.TypeCancelled)+"@local" {
				t.Errorf("calls %v: want three undos, the first alone regular, and a local publish", kinds)
			}
		})
	}
}

// TestPlaceOrderStepCompensatedAlready: a forward step that finds its
// compensation ran (a workflow task that compensated the saga was lost,
// and the saga runs its steps again) fails the saga for good, for the
// reason the compensation recorded: it compensates what may have run,
// again (a no-op at the barrier), and publishes the order.cancelled
// event; it never goes on to confirm.
func TestPlaceOrderStepCompensatedAlready(t *testing.T) {
	const lost = "InsufficientFundsError: insufficient funds"
	for _, settings := range []Settings{{}, {LocalActivities: true, AllLocal: true}} {
		for _, step := range []string{spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment} {
			for _, reason := range []string{lost, ""} {
				t.Run(fmt.Sprintf("local=%v/%s/reason=%q", settings.AllLocal, step, reason), func(t *testing.T) {
					f := newFakes()
					f.compensated[step] = reason
					env := newOrderEnv(t, settings, f)
					out := mustRunOrder(t, env)
					want := spec.ErrAlreadyCompensated + ": " + reason
					if reason == "" {
						want = spec.ErrAlreadyCompensated + ": step " + stepOf[step] + " was compensated already by an earlier run of this saga"
					}
					if out.Status != Cancelled || out.Reason != want {
						t.Errorf("outcome %+v, want cancelled for %q", out, want)
					}
					forward := []string{spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment}
					undo := map[string]string{spec.CreateOrder: spec.CancelOrder, spec.ReserveInventory: spec.ReleaseInventory,
						spec.ChargePayment: spec.RefundPayment}
					calls := slices.Clone(forward[:slices.Index(forward, step)+1])
					for k := len(calls) - 1; k > 0; k-- {
						calls = append(calls, undo[calls[k]])
					}
					assertCalls(t, f.Calls(), append(calls, publish(events.TypeCancelled)))
					assertOrderInputs(t, f, out.Reason)
				})
			}
		}
	}
}

// stepOf names the step of each forward activity.
var stepOf = map[string]string{spec.CreateOrder: spec.StepCreate, spec.ReserveInventory: spec.StepReserve,
	spec.ChargePayment: spec.StepCharge, spec.ConfirmOrder: spec.StepConfirm}

// TestPlaceOrderLocalRetries: a forward step that keeps failing is retried
// as often in local mode as in regular mode (ForwardOptions allow 10
// attempts).
func TestPlaceOrderLocalRetries(t *testing.T) {
	f := newFakes()
	f.hooks[spec.ReserveInventory] = failAlways(infra())
	env := newOrderEnv(t, Settings{LocalActivities: true}, f)
	out := mustRunOrder(t, env)
	if out.Status != Cancelled || out.Reason != "DBUnavailable: connection refused" {
		t.Fatalf("outcome %+v", out)
	}
	if n := f.count(spec.ReserveInventory); n != 10 {
		t.Errorf("local mode: ReserveInventory ran %d times, want 10 as in regular mode", n)
	}
}

// TestPlaceOrderStateQuery: the state query after the saga finished.
func TestPlaceOrderStateQuery(t *testing.T) {
	cases := []struct {
		name     string
		hooks    map[string]hook
		status   string
		reason   string
		failed   string
		statuses []string
	}{
		{"completed", nil, saga.StatusCompleted, "", "",
			repeat(saga.StepDone, 6)},
		{"compensated", map[string]hook{spec.ReserveInventory: failAlways(business(spec.ErrOutOfStock, "sku-a: 0 left"))},
			saga.StatusCompensated, "OutOfStockError: sku-a: 0 left", spec.StepReserve,
			[]string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepPending, saga.StepPending, saga.StepDone}},
		{"confirm compensated", map[string]hook{spec.ConfirmOrder: failAlways(business(spec.ErrOrderState, "not pending"))},
			saga.StatusCompensated, "OrderStateError: not pending", spec.StepConfirm,
			[]string{saga.StepDone, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepCompensated, saga.StepDone}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			addHooks(f.hooks, tc.hooks)
			env := newOrderEnv(t, Settings{}, f)
			mustRunOrder(t, env)
			st := queryState(t, env)
			if st.Status != tc.status || st.Reason != tc.reason || st.FailedStep != tc.failed || st.Step != "" || st.UpdatedAt.IsZero() {
				t.Errorf("state status %q reason %q failed %q step %q, want %q %q %q \"\"", st.Status, st.Reason, st.FailedStep, st.Step,
					tc.status, tc.reason, tc.failed)
			}
			if !reflect.DeepEqual(names(st), stepNames) || !reflect.DeepEqual(stepStatuses(st), tc.statuses) {
				t.Errorf("steps %+v, want names %q statuses %q", st.Steps, stepNames, tc.statuses)
			}
			for _, s := range st.Steps {
				if s.Status != saga.StepPending && s.StartedAt.IsZero() {
					t.Errorf("step %s has no start time", s.Name)
				}
				if s.Status == saga.StepCompensated && (s.CompensatedAt.IsZero() || s.CompensationAttempts != 1) {
					t.Errorf("step %s: %+v", s.Name, s)
				}
			}
			if tc.failed == "" {
				assertUpserts(t, f.sa, confirmedUpserts())
			} else {
				assertUpserts(t, f.sa, cancelledUpserts(tc.failed))
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
		{"quantity at the maximum", func(in *PlaceOrderInput) { in.Items[0].Quantity = spec.MaxQuantity }, ""},
		{"quantity above the maximum", func(in *PlaceOrderInput) { in.Items[0].Quantity = spec.MaxQuantity + 1 }, "items[0].quantity"},
		{"customer id with a space", func(in *PlaceOrderInput) { in.CustomerID = "a b" }, "customer_id"},
		{"customer id as an email", func(in *PlaceOrderInput) { in.CustomerID = "alice.b@example.com" }, ""},
		{"sku with a space", func(in *PlaceOrderInput) { in.Items[0].SKU = "W 1" }, "items[0].sku"},
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

// TestPlaceOrderStartedWithSearchAttributes: a saga the starter started with
// its business keys and SagaStatus running does not upsert them again: one
// visibility write on the happy path.
func TestPlaceOrderStartedWithSearchAttributes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hooks map[string]hook
		want  []map[string]string
	}{
		{"confirmed", nil, []map[string]string{upsert(saga.StatusCompleted, spec.StepConfirm)}},
		{"reserve fails", map[string]hook{spec.ReserveInventory: failAlways(business(spec.ErrOutOfStock, "0 left"))},
			[]map[string]string{upsert(saga.StatusCompensating, spec.StepReserve), upsert(saga.StatusCompensated, "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			addHooks(f.hooks, tc.hooks)
			env := newOrderEnv(t, Settings{}, f)
			if err := env.SetTypedSearchAttributesOnStart(StartSearchAttributes(testInput())); err != nil {
				t.Fatal(err)
			}
			mustRunOrder(t, env)
			assertUpserts(t, f.sa, tc.want)
		})
	}
}
