package test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	w := tworker.New(s.Temporal, queue, opts)
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

func TestLocalActivityMode(t *testing.T) {
	s := stack
	queue := s.extraWorker(t, func(c *config.Saga) { c.Mode = config.ModeLocal })
	p := s.addProduct(t, 500, 5)
	rich := s.addCustomer(t, 50_000)
	poor := s.addCustomer(t, 100)

	ok := uniq(t, "ord")
	out, err := s.start(t, starter.Request{OrderID: ok, CustomerID: rich, Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}}, queue).Result(context.Background())
	if err != nil || out.Status != workflows.Confirmed {
		t.Fatalf("local mode happy path: %+v, %v", out, err)
	}
	refused := uniq(t, "ord")
	out, err = s.start(t, starter.Request{OrderID: refused, CustomerID: poor, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, queue).Result(context.Background())
	if err != nil || out.Status != workflows.Cancelled {
		t.Fatalf("local mode compensation: %+v, %v", out, err)
	}
	if got := s.stock(t, p); got != 3 {
		t.Errorf("stock = %d, want 5-2 = 3", got)
	}
	s.oneEvent(t, ok, events.TypeConfirmed)
	s.oneEvent(t, refused, events.TypeCancelled)

	// Forward steps ran as local activities (marker events), the
	// compensations and the publish as regular activities.
	local, regular := s.activityKinds(t, ok)
	if !local[spec.ChargePayment] || regular[spec.ChargePayment] || !regular[spec.PublishEvent] {
		t.Errorf("confirmed saga: local %v, regular %v", local, regular)
	}
	local, regular = s.activityKinds(t, refused)
	if !local[spec.ReserveInventory] || !regular[spec.ReleaseInventory] || !regular[spec.CancelOrder] {
		t.Errorf("compensated saga: local %v, regular %v", local, regular)
	}
}
