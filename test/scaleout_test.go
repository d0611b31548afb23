package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/migrations"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
)

// TestScaleOutThreeWorkersSurviveFaults runs 200 orders on three worker
// processes of one task queue while one worker is killed, one is stopped
// and started again, every database connection of the workers is
// terminated and NATS is down for a few seconds. Every order must end
// confirmed or cancelled, stock and money must add up to what was seeded,
// the stream must hold exactly one event per order and the outbox must
// drain.
func TestScaleOutThreeWorkersSurviveFaults(t *testing.T) {
	s := stack
	const (
		sagas       = 200
		scarceStock = 60
		plentyStock = 100_000
		richBalance = 100_000_000
		poorBalance = 50 // less than any order
	)
	// Production's compensation timeout (the stack's 5s is for the operator
	// tests), and pools small enough for four processes on a PostgreSQL
	// that other tests share (max_connections 100): the activity slots
	// follow them.
	workers := newProcWorkers(t, uniq(t, "queue"),
		"FEDSAGA_SAGA__COMPENSATION_TIMEOUT=10m",
		"FEDSAGA_DATABASES__ORDERS__POOL_SIZE=4",
		"FEDSAGA_DATABASES__INVENTORY__POOL_SIZE=4",
		"FEDSAGA_DATABASES__PAYMENTS__POOL_SIZE=4",
	)
	queue := workers.queue
	for i := range 3 {
		workers.start(t, i)
	}
	for i := range 3 {
		workers.waitStarted(t, i)
	}

	// Seeded: every product and account the orders touch, with what it holds.
	stockSeeded := map[product]int64{}
	var plenty []product
	for range 3 {
		p := s.addProduct(t, 250, plentyStock)
		plenty, stockSeeded[p] = append(plenty, p), plentyStock
	}
	scarce := s.addProduct(t, 100, scarceStock)
	stockSeeded[scarce] = scarceStock
	balanceSeeded := map[string]int64{}
	var rich []string
	for range 3 {
		c := s.addCustomer(t, richBalance)
		rich, balanceSeeded[c] = append(rich, c), richBalance
	}
	poor := s.addCustomer(t, poorBalance)
	balanceSeeded[poor] = poorBalance

	// The mix: 20% insufficient funds, 20% three of the scarce product (out
	// of stock once it runs out), the rest confirmed.
	rng := rand.New(rand.NewPCG(10, 3))
	reqs := make([]starter.Request, sagas)
	for i := range reqs {
		req := starter.Request{OrderID: uniq(t, "ord"), CustomerID: rich[i%len(rich)],
			Items: []starter.Item{{SKU: plenty[i%len(plenty)].SKU, Quantity: 1 + rng.IntN(2)}}}
		switch rng.IntN(5) {
		case 0:
			req.CustomerID = poor
		case 1:
			req.Items = []starter.Item{{SKU: scarce.SKU, Quantity: 3}}
		}
		reqs[i] = req
	}

	// All 200 in flight at once.
	results := make([]*starter.Outcome, sagas)
	errs := make([]error, sagas)
	var finished atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, req := range reqs {
		wg.Go(func() {
			defer finished.Add(1)
			h, err := starter.PlaceOrder(ctx, s.Temporal, req, starter.TaskQueue(queue))
			if err == nil {
				results[i], err = h.Result(ctx)
			}
			errs[i] = err
		})
	}
	inFlight := func(fault string) {
		t.Helper()
		n := sagas - finished.Load()
		t.Logf("%s with %d orders in flight", fault, n)
		if n == 0 {
			t.Errorf("%s: no order in flight any more; the test proves nothing about it", fault)
		}
	}
	waitFor(t, "the first orders to finish", 60*time.Second, func() (bool, string) {
		n := finished.Load()
		return n >= 5, fmt.Sprintf("%d finished", n)
	})

	// Worker 0 dies: its activities time out and run elsewhere.
	inFlight("SIGKILL worker 0")
	workers.signal(t, 0, syscall.SIGKILL)

	// Worker 1 stops gracefully and starts again.
	inFlight("SIGTERM worker 1")
	workers.signal(t, 1, syscall.SIGTERM)
	if code := workers.procs[1].cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("worker 1 exited with %d after SIGTERM, want 0: %s", code, logTail(workers.procs[1].log))
	}
	workers.start(t, 1)
	workers.waitStarted(t, 1)

	// Every connection of fedsaga's pools to this stack's databases dies.
	inFlight("pg_terminate_backend")
	killed := s.terminateBackends(t)
	t.Logf("terminated %d connections", killed)
	if killed < 2 {
		t.Errorf("terminated %d connections, want those of both running workers at least", killed)
	}

	// NATS is down for a few seconds.
	inFlight("NATS down")
	s.restartNATS(t, func() { time.Sleep(3 * time.Second) })

	wg.Wait()
	outcomes := map[string]int{}
	for i, out := range results {
		switch {
		case errs[i] != nil:
			t.Errorf("order %s: %v", reqs[i].OrderID, errs[i])
		case out.Status == workflows.Confirmed:
			outcomes["confirmed"]++
		case out.Status == workflows.Cancelled && strings.Contains(out.Reason, spec.ErrInsufficientFunds) && reqs[i].CustomerID == poor:
			outcomes["insufficient funds"]++
		case out.Status == workflows.Cancelled && strings.Contains(out.Reason, spec.ErrOutOfStock) && reqs[i].Items[0].SKU == scarce.SKU:
			outcomes["out of stock"]++
		default:
			t.Errorf("order %s (%+v): outcome %+v", reqs[i].OrderID, reqs[i], out)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	if t.Failed() {
		t.FailNow()
	}
	if len(outcomes) != 3 {
		t.Errorf("the mix did not reach every outcome: %v", outcomes)
	}

	// Stock and money: what was seeded is still all there, and what left
	// it is exactly what the confirmed orders took.
	wantStock, wantCharged := map[string]int64{}, map[string]int64{}
	for i, out := range results {
		if out.Status != workflows.Confirmed {
			continue
		}
		for _, it := range reqs[i].Items {
			wantStock[it.SKU] += int64(it.Quantity)
		}
		wantCharged[reqs[i].CustomerID] += out.TotalCents
	}
	for p, seeded := range stockSeeded {
		left := s.stock(t, p)
		reserved := s.count(t, "inventory", `SELECT coalesce(sum(quantity), 0)::bigint FROM tb_reservation WHERE product_id = $1 AND status = 'reserved'`, p.ID)
		if left+reserved != seeded || reserved != wantStock[p.SKU] {
			t.Errorf("product %s: stock %d + reserved %d, want %d seeded with %d reserved by the confirmed orders", p.ID, left, reserved, seeded, wantStock[p.SKU])
		}
	}
	for customer, seeded := range balanceSeeded {
		balance := s.balance(t, customer)
		charged := s.count(t, "payments", `SELECT coalesce(sum(amount_cents), 0)::bigint FROM tb_transaction WHERE customer_id = $1 AND status = 'charged'`, customer)
		if balance+charged != seeded || charged != wantCharged[customer] {
			t.Errorf("customer %s: balance %d + charged %d, want %d seeded with %d charged for the confirmed orders", customer, balance, charged, seeded, wantCharged[customer])
		}
	}

	// The relay publishes what the sagas could not while NATS was down.
	ids := make([]string, sagas)
	for i, req := range reqs {
		ids[i] = req.OrderID
	}
	waitFor(t, "outbox of the orders published", 60*time.Second, func() (bool, string) {
		n := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = ANY($1) AND published_at IS NULL`, ids)
		return n == 0, fmt.Sprintf("%d unpublished", n)
	})
	for i, out := range results {
		want := events.TypeConfirmed
		if out.Status == workflows.Cancelled {
			want = events.TypeCancelled
		}
		s.oneEvent(t, reqs[i].OrderID, want)
	}
}

// terminateBackends terminates every connection of fedsaga's pools
// (application_name fedsaga) to this stack's databases, and no other, and
// returns how many it terminated. The test's own pools are reset, so that
// the checks after it do not meet a dead connection.
func (s *Stack) terminateBackends(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'fedsaga' AND datname = ANY($1) AND pid <> pg_backend_pid()`, s.dbNames).Scan(&killed)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range migrations.Databases {
		s.pool(t, name).Reset()
	}
	return killed
}

// procWorkers are fedsaga worker processes on one task queue, each of which
// a test can kill, stop and start again. They are all killed when the test
// ends, also when it fails.
type procWorkers struct {
	queue string
	env   []string // besides the task queue
	procs map[int]*workerProc
	runs  int // processes started so far, for the log names
}

func newProcWorkers(t *testing.T, queue string, env ...string) *procWorkers {
	w := &procWorkers{queue: queue, env: env, procs: map[int]*workerProc{}}
	t.Cleanup(func() {
		for i, p := range w.procs {
			p.cmd.Process.Kill()
			<-p.done
			if t.Failed() {
				t.Logf("worker %d log (%s): %s", i, p.log, logTail(p.log))
			}
		}
	})
	return w
}

// start starts worker i (again) with the stack's configuration.
func (w *procWorkers) start(t *testing.T, i int) {
	t.Helper()
	w.runs++
	logPath := filepath.Join(stack.Dir, fmt.Sprintf("%s-%d.%d.log", w.queue, i, w.runs))
	p, err := startWorkerProc(logPath, fedsagaBin(t), []string{"--config", stack.ConfigPath, "worker"},
		append([]string{"FEDSAGA_TEMPORAL__TASK_QUEUE=" + w.queue}, w.env...)...)
	if err != nil {
		t.Fatalf("start worker %d: %v", i, err)
	}
	w.procs[i] = p
}

// waitStarted waits until worker i logs that it polls.
func (w *procWorkers) waitStarted(t *testing.T, i int) {
	t.Helper()
	p := w.procs[i]
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, _ := os.ReadFile(p.log)
		select {
		case <-p.done:
			t.Fatalf("worker %d exited (%s): %s", i, p.cmd.ProcessState, logTail(p.log))
		default:
		}
		switch {
		case strings.Contains(string(data), "worker started"):
			return
		case time.Now().After(deadline):
			t.Fatalf("worker %d not started after 60s: %s", i, logTail(p.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signal sends sig to worker i and waits until it has exited.
func (w *procWorkers) signal(t *testing.T, i int, sig syscall.Signal) {
	t.Helper()
	p := w.procs[i]
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal worker %d: %v", i, err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker %d still runs 30s after %s", i, sig)
	}
}
