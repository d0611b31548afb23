package test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	tworker "go.temporal.io/sdk/worker"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// extraWorker runs a worker of the stack's code on its own task queue, with
// the saga settings changed by mutate and extra activity interceptors.
func (s *Stack) extraWorker(t *testing.T, mutate func(*config.Saga), extra ...interceptor.WorkerInterceptor) string {
	t.Helper()
	return s.extraWorkerOn(t, s.Temporal, mutate, extra...)
}

// extraWorkerOn is extraWorker with the client c.
func (s *Stack) extraWorkerOn(t *testing.T, c client.Client, mutate func(*config.Saga), extra ...interceptor.WorkerInterceptor) string {
	t.Helper()
	queue := uniq(t, "queue")
	sagaCfg := s.Config.Saga
	if mutate != nil {
		mutate(&sagaCfg)
	}
	acts, err := activities.New(s.DBs, s.Config.Federation, s.JetStream)
	if err != nil {
		t.Fatal(err)
	}
	opts := worker.Options(s.Config.Worker)
	opts.Interceptors = append(opts.Interceptors, extra...)
	w := tworker.New(c, queue, opts)
	worker.Register(w, acts, worker.Settings(sagaCfg, s.Config.Events))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return queue
}

func TestSagaTimeoutCompensates(t *testing.T) {
	s := stack
	p := s.addProduct(t, 900, 10)
	customer := s.addCustomer(t, 50_000)
	s.lockProduct(t, p) // the reserve step waits longer than the saga may take

	// A worker process (the binary) whose sagas time out after 2 seconds.
	queue := uniq(t, "queue")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, fedsagaBin(t), "--config", s.ConfigPath, "worker")
	cmd.Env = append(cmd.Environ(), "FEDSAGA_SAGA__TIMEOUT=2s", "FEDSAGA_TEMPORAL__TASK_QUEUE="+queue)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })

	orderID := uniq(t, "ord")
	start := time.Now()
	h := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, queue)
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	out, err := h.Result(rctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "saga timeout passed (2s)") {
		t.Fatalf("outcome %+v: want cancelled by the saga timeout", out)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the timeout took %s to compensate", d)
	}
	st, err := starter.SagaState(context.Background(), s.Temporal, orderID)
	if err != nil || st.Status != saga.StatusCompensated || st.FailedStep != spec.StepReserve {
		t.Errorf("state %+v, %v", st, err)
	}
	if got := s.scalar(t, "orders", `SELECT status FROM tb_order WHERE id = $1`, orderID); got != "cancelled" {
		t.Errorf("order = %v, want cancelled", got)
	}
}

// loseResponse makes an activity commit and then report failure, as when
// its response is lost: times says how many attempts lose it (0: all).
type loseResponse struct {
	interceptor.WorkerInterceptorBase
	activity string
	times    int32
}

func (l *loseResponse) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &loseResponseInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, l: l}
}

type loseResponseInbound struct {
	interceptor.ActivityInboundInterceptorBase
	l *loseResponse
}

func (i *loseResponseInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := i.Next.ExecuteActivity(ctx, in)
	info := activityInfo(ctx)
	if err == nil && info.ActivityType.Name == i.l.activity && (i.l.times == 0 || info.Attempt <= i.l.times) {
		return nil, temporal.NewApplicationError("response lost after commit (injected)", "LostResponse")
	}
	return res, err
}

func TestLostResponseRetriedChangesNothingTwice(t *testing.T) {
	s := stack
	p := s.addProduct(t, 1000, 10)
	customer := s.addCustomer(t, 50_000)
	queue := s.extraWorker(t, nil, &loseResponse{activity: spec.ChargePayment, times: 1})

	orderID := uniq(t, "ord")
	out, err := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 3}}}, queue).Result(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Confirmed {
		t.Fatalf("outcome %+v, want confirmed", out)
	}
	if got := s.balance(t, customer); got != 50_000-3000 {
		t.Errorf("balance = %d, want charged exactly once (47000)", got)
	}
	if got := s.count(t, "payments", `SELECT count(*) FROM tb_transaction WHERE order_id = $1`, orderID); got != 1 {
		t.Errorf("transactions = %d, want 1", got)
	}
}

func TestLostResponseForGoodIsCompensated(t *testing.T) {
	s := stack
	p := s.addProduct(t, 1000, 10)
	customer := s.addCustomer(t, 50_000)
	queue := s.extraWorker(t, nil, &loseResponse{activity: spec.ChargePayment})

	orderID := uniq(t, "ord")
	out, err := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 3}}}, queue).Result(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "LostResponse") {
		t.Fatalf("outcome %+v, want cancelled after the charge's lost responses", out)
	}
	// The charge did commit: its compensation refunded it.
	if got := s.balance(t, customer); got != 50_000 {
		t.Errorf("balance = %d, want 50000 (refunded)", got)
	}
	if got := s.scalar(t, "payments", `SELECT status FROM tb_transaction WHERE order_id = $1`, orderID); got != "refunded" {
		t.Errorf("transaction = %v, want refunded", got)
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d, want 10", got)
	}
	st, _ := starter.SagaState(context.Background(), s.Temporal, orderID)
	for _, step := range st.Steps {
		if step.Name == spec.StepCharge && step.Attempts != 10 {
			t.Errorf("charge attempts = %d, want 10 (the retry policy's maximum)", step.Attempts)
		}
	}
}

// TestLocalActivityMode: in local mode every activity of the saga, the
// compensations, VoidConfirm and the publish included, runs as a local
// activity: the history holds markers and no activity task. The starter
// passes the saga settings in the input, so the saga records no
// SideEffect marker for them; a saga started without them records the
// worker's, and runs the same way.
func TestLocalActivityMode(t *testing.T) {
	s := stack
	local := func(c *config.Saga) { c.Mode = config.ModeLocal }
	queue := s.extraWorker(t, local)
	sagaCfg := s.Config.Saga
	local(&sagaCfg)
	settings := starter.WithSettings(worker.Settings(sagaCfg, s.Config.Events))
	p := s.addProduct(t, 500, 5)
	rich := s.addCustomer(t, 50_000)
	poor := s.addCustomer(t, 100)
	place := func(req starter.Request, opts ...starter.Option) *starter.Outcome {
		t.Helper()
		h, err := starter.PlaceOrder(context.Background(), s.Temporal, req, append(opts, starter.TaskQueue(queue))...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.Result(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	ok := uniq(t, "ord")
	if out := place(starter.Request{OrderID: ok, CustomerID: rich, Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}}, settings); out.Status != workflows.Confirmed || !out.EventPublished {
		t.Fatalf("local mode happy path: %+v", out)
	}
	refused := uniq(t, "ord")
	if out := place(starter.Request{OrderID: refused, CustomerID: poor, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, settings); out.Status != workflows.Cancelled || !out.EventPublished {
		t.Fatalf("local mode compensation: %+v", out)
	}
	marker := uniq(t, "ord") // no settings in the input: the worker's, in a marker
	if out := place(starter.Request{OrderID: marker, CustomerID: rich, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}); out.Status != workflows.Confirmed {
		t.Fatalf("local mode without settings in the input: %+v", out)
	}
	if got := s.stock(t, p); got != 2 {
		t.Errorf("stock = %d, want 5-2-1 = 2", got)
	}
	s.oneEvent(t, ok, events.TypeConfirmed)
	s.oneEvent(t, refused, events.TypeCancelled)
	s.oneEvent(t, marker, events.TypeConfirmed)

	// Every activity is local, the compensations included (a forward step
	// run again after a lost workflow task learns from the barrier that
	// it was compensated: TestSagaRerunAfterALostTaskCompensates).
	for _, tc := range []struct {
		orderID    string
		local      []string
		sideEffect bool
	}{
		{ok, []string{spec.Validate, spec.CreateOrder, spec.ReserveInventory, spec.ChargePayment, spec.ConfirmOrder, spec.PublishEvent}, false},
		{refused, []string{spec.ChargePayment, spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder, spec.PublishEvent}, false},
		{marker, []string{spec.ConfirmOrder, spec.PublishEvent}, true},
	} {
		local, regular := s.activityKinds(t, tc.orderID)
		for _, name := range tc.local {
			if !local[name] {
				t.Errorf("order %s: %s did not run as a local activity (local %v)", tc.orderID, name, local)
			}
		}
		if len(regular) != 0 {
			t.Errorf("order %s: regular activities %v, want none", tc.orderID, regular)
		}
		if got := s.markers(t, tc.orderID)["SideEffect"] > 0; got != tc.sideEffect {
			t.Errorf("order %s: SideEffect marker recorded: %v, want %v", tc.orderID, got, tc.sideEffect)
		}
	}
}
