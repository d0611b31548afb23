package test

// Saga benchmarks: the order saga against its floor, on the stack's
// Temporal dev server. Run them with scripts/bench.sh (`make bench`), or:
//
//	go test ./test -run '^$' -bench 'Saga/regular/workers=1/happy/conc=1$' -benchtime 20x
//
// Sub-benchmarks are named key=value, so benchstat can put them side by
// side: `go tool benchstat -col /kind bench-results/raw.txt` compares the
// floor with the order saga's paths.

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/test/floor"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

// Kinds of saga benchmark.
const (
	kindFloor        = "floor"        // test/floorworker: six no-op activities
	kindHappy        = "happy"        // the order saga, confirmed
	kindCompensation = "compensation" // the order saga, payment refused and compensated
	// kindPacedFloor is the floor started at the happy path's rate of the
	// same run (the median of its runs so far, at saturation): the Temporal
	// server's CPU per workflow falls as its load rises (it batches more
	// when more is queued), so the floor at full speed is cheaper per
	// workflow than it is at the saga's slower pace. Comparing CPU per saga
	// with this floor compares the same server load.
	kindPacedFloor = "paced-floor"
)

// saturation is the number of concurrent starters that saturates the
// machine the benchmarks were written on (2 cores).
const saturation = 32

// BenchmarkSaga measures sagas from start to result, as a service that
// starts them sees it, with `conc` starters each starting a saga and waiting
// for its outcome, then the next. Workers are child processes (the fedsaga
// binary, or test/floorworker for the floor) on a task queue of their own,
// so one and two worker processes compare fairly; only the workers under
// test run. Each benchmark reports sagas/s (at conc 32 that of the steady
// state: steadyRate), latency percentiles, and the CPU time each process
// spent per saga.
func BenchmarkSaga(b *testing.B) {
	s := stack
	workers := &benchWorkers{s: s}
	b.Cleanup(workers.stop)
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		for _, n := range benchWorkerCounts(b) {
			var happyRate float64 // sagas/s of the happy path's last run at saturation: the one reported
			for _, kind := range []string{kindFloor, kindHappy, kindCompensation, kindPacedFloor} {
				for _, conc := range []int{1, saturation} {
					if kind == kindPacedFloor && conc != saturation {
						continue
					}
					name := fmt.Sprintf("mode=%s/workers=%d/kind=%s/conc=%d", mode, n, kind, conc)
					b.Run(name, func(b *testing.B) {
						// The default publish timeout (the stack's 3 s is for
						// the NATS outage tests): at saturation the publish
						// may wait longer than 3 s for its turn.
						runner, pace := kind, time.Duration(0)
						if kind == kindPacedFloor {
							if happyRate == 0 {
								b.Skip("no happy path measured at saturation in this run: nothing to pace the floor at")
							}
							runner, pace = kindFloor, time.Duration(float64(time.Second)/happyRate)
						}
						set := workerSet{fedsaga: runner != kindFloor, mode: mode, n: n, publishTimeout: 2 * time.Minute}
						queue := workers.use(b, set)
						one := s.sagaRunner(b, s.Temporal, runner, set, queue, conc)
						rate := s.runSagasPaced(b, conc, workers.pids(), one, pace)
						if kind == kindHappy && conc == saturation {
							happyRate = rate
						}
					})
				}
			}
		}
	}
}

// benchWorkersEnv lists the worker process counts BenchmarkSaga runs,
// such as "1" or "1,2" (scripts/bench.sh: WORKERS); default 1, 2 and 3.
const benchWorkersEnv = "FEDSAGA_BENCH_WORKERS"

func benchWorkerCounts(b *testing.B) []int {
	v := os.Getenv(benchWorkersEnv)
	if v == "" {
		return []int{1, 2, 3}
	}
	var ns []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want worker process counts of 1 or more, separated by commas, such as 1,2", benchWorkersEnv, v)
		}
		ns = append(ns, n)
	}
	return ns
}

// sagaRunner returns what starter g runs, once per saga: start it, wait
// for its outcome, and check the outcome (sagaRun, without the id).
func (s *Stack) sagaRunner(b *testing.B, c client.Client, kind string, set workerSet, queue string, conc int, opts ...starter.Option) func(ctx context.Context, g int) error {
	return s.sagaRun(b, c, kind, set, queue, conc, opts...).discardID
}

// sagaFunc is what starter g runs, once per saga (sagaRun).
type sagaFunc func(ctx context.Context, g int) (string, error)

// once runs one saga as starter 0.
func (f sagaFunc) once(ctx context.Context) (string, error) { return f(ctx, 0) }

// discardID runs one saga as starter g, without its workflow id.
func (f sagaFunc) discardID(ctx context.Context, g int) error {
	_, err := f(ctx, g)
	return err
}

// sagaRun returns what starter g runs, once per saga: start it, wait for
// its outcome, check the outcome and return its workflow id. Order sagas
// get the saga settings of the worker set in their input, as `fedsaga
// order place` passes them (starter.WithSettings), and opts; c starts
// them.
func (s *Stack) sagaRun(b *testing.B, c client.Client, kind string, set workerSet, queue string, conc int, opts ...starter.Option) sagaFunc {
	if kind == kindFloor {
		return func(ctx context.Context, _ int) (string, error) {
			id := benchID("floor")
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, floor.Workflow)
			if err != nil {
				return "", err
			}
			return id, run.Get(ctx, nil)
		}
	}
	balance := int64(1_000_000_000_000_000) // never runs out
	if kind == kindCompensation {
		balance = 0 // the charge is refused
	}
	fixtures := s.benchFixtures(b, conc, balance)
	opts = append(opts, starter.TaskQueue(queue), starter.WithSettings(s.settings(set)))
	return func(ctx context.Context, g int) (string, error) {
		req := starter.Request{
			OrderID:    benchID("ord"),
			CustomerID: fixtures[g].customer,
			Items:      []starter.Item{{SKU: fixtures[g].sku, Quantity: 1}},
		}
		h, err := starter.PlaceOrder(ctx, c, req, opts...)
		if err != nil {
			return "", err
		}
		out, err := h.Result(ctx)
		switch {
		case err != nil:
			return "", err
		case kind == kindHappy && (out.Status != workflows.Confirmed || !out.EventPublished):
			return "", fmt.Errorf("order %s: %+v, want confirmed and published", req.OrderID, out)
		case kind == kindCompensation && (out.Status != workflows.Cancelled || !strings.Contains(out.Reason, spec.ErrInsufficientFunds)):
			return "", fmt.Errorf("order %s: %+v, want cancelled for lack of funds", req.OrderID, out)
		}
		return h.WorkflowID, nil
	}
}

// benchFixture is one starter's customer and product. Each starter has its
// own, so the figures measure fedsaga and Temporal, not PostgreSQL's row
// locks on one hot product or account.
type benchFixture struct {
	customer, sku string
}

// benchFixtures creates n customers with the given balance and n products
// at 1.00 with a stock that never runs out.
func (s *Stack) benchFixtures(b *testing.B, n int, balanceCents int64) []benchFixture {
	b.Helper()
	ctx := context.Background()
	prefix := benchID("fx")
	_, err := s.pool(b, "inventory").Exec(ctx, `
		INSERT INTO tb_product (id, sku, name, price_cents, stock)
		SELECT $1 || '-p' || g, 'SKU-' || $1 || '-' || g, 'Bench ' || g, 100, 2000000000
		FROM generate_series(0, $2 - 1) g`, prefix, n)
	if err != nil {
		b.Fatal(err)
	}
	_, err = s.pool(b, "payments").Exec(ctx, `
		INSERT INTO tb_account (customer_id, name, balance_cents)
		SELECT $1 || '-c' || g, 'Bench', $3 FROM generate_series(0, $2 - 1) g`, prefix, n, balanceCents)
	if err != nil {
		b.Fatal(err)
	}
	fx := make([]benchFixture, n)
	for g := range fx {
		fx[g] = benchFixture{customer: fmt.Sprintf("%s-c%d", prefix, g), sku: fmt.Sprintf("SKU-%s-%d", prefix, g)}
	}
	return fx
}

// settings are the saga settings of the set's workers, with production's
// compensation timeout (the stack's 5 s is for the operator tests): on a
// PostgreSQL that other tests share, a compensation may have to wait for a
// connection longer than that.
func (s *Stack) settings(set workerSet) workflows.Settings {
	sagaCfg, events := s.Config.Saga, s.Config.Events
	sagaCfg.Mode = set.mode
	sagaCfg.CompensationTimeout = 10 * time.Minute
	if set.publishTimeout != 0 {
		events.PublishTimeout = set.publishTimeout
	}
	return worker.Settings(sagaCfg, events)
}

var benchSeq atomic.Int64

// benchID is an id unique to this run: the stack's server and databases
// are fresh for every run.
func benchID(kind string) string {
	return fmt.Sprintf("bench-%s-%d", kind, benchSeq.Add(1))
}

// runSagas runs sagas with conc starters and reports throughput, latency
// percentiles and CPU per saga; workerPIDs are the worker processes under
// test. At conc 1 an op is one saga; above, it is saturationWaves sagas
// per starter, and the throughput is that of the steady state (steadyRate).
func (s *Stack) runSagas(b *testing.B, conc int, workerPIDs []int, one func(ctx context.Context, g int) error) {
	s.runSagasPaced(b, conc, workerPIDs, one, 0)
}

// runSagasPaced is runSagas with saga i starting no earlier than i × pace
// after the first (0: as soon as a starter is free); it returns the sagas/s
// it reported.
func (s *Stack) runSagasPaced(b *testing.B, conc int, workerPIDs []int, one func(ctx context.Context, g int) error, pace time.Duration) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n := b.N
	if conc > 1 {
		n *= conc * saturationWaves
	}
	b.ResetTimer()
	m, err := s.measureSagas(ctx, n, conc, workerPIDs, one, pace)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(m.rate, "sagas/s")
	for _, p := range []int{50, 95, 99} {
		b.ReportMetric(durationMS(benchPercentile(m.latencies, p)), fmt.Sprintf("p%d-ms", p))
	}
	for _, group := range s.cpuGroups() {
		b.ReportMetric(durationMS(m.cpu[group])/float64(n), group+"-cpu-ms/op")
	}
	return m.rate
}

// sagaMeasurement is what measureSagas measured.
type sagaMeasurement struct {
	rate      float64                  // sagas/s: the steady state's at conc > 1 (steadyRate)
	latencies []time.Duration          // each saga's, sorted
	cpu       map[string]time.Duration // CPU spent by each group of processes (sampleCPU)
}

// measureSagas runs n sagas with conc starters, saga i starting no earlier
// than i × pace after the first (0: as soon as a starter is free), and
// measures their rate, their latencies and the CPU each group of processes
// spent (workerPIDs are the worker processes under test). It stops at the
// first saga that fails.
func (s *Stack) measureSagas(ctx context.Context, n, conc int, workerPIDs []int, one func(ctx context.Context, g int) error, pace time.Duration) (sagaMeasurement, error) {
	began, ended := make([]time.Time, n), make([]time.Time, n)
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	cpuBefore := s.sampleCPU(workerPIDs)
	t0 := time.Now()
	for g := range min(conc, n) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if pace > 0 {
					time.Sleep(time.Until(t0.Add(time.Duration(i) * pace)))
				}
				began[i] = time.Now()
				if err := one(ctx, g); err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(n)) // the other starters stop too
					return
				}
				ended[i] = time.Now()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return sagaMeasurement{}, firstErr
	}
	m := sagaMeasurement{cpu: s.sampleCPU(workerPIDs).since(cpuBefore)}
	m.rate = steadyRate(began, ended, conc)
	if m.rate == 0 { // too few sagas for a steady state
		m.rate = float64(n) / time.Since(t0).Seconds()
	}
	m.latencies = make([]time.Duration, n)
	for i := range n {
		m.latencies[i] = ended[i].Sub(began[i])
	}
	slices.Sort(m.latencies)
	return m, nil
}

// cpuGroups are the groups of processes whose CPU the saga benchmarks
// report: the server's PostgreSQL too when the server has one.
func (s *Stack) cpuGroups() []string {
	groups := []string{cpuServer, cpuWorkers, cpuPostgres, cpuBench}
	if len(s.serverDBs) > 0 {
		groups = append(groups, cpuServerPG)
	}
	return groups
}

// saturationWaves is how many sagas each of conc > 1 starters runs per op:
// enough that the steady state outlasts the first wave and the drain.
const saturationWaves = 8

// steadyRate is the sagas/s of a run while all conc starters were busy
// after the first wave: the sagas that ended after the conc-th to end and
// no later than the last saga began, over that time. The first wave starts
// all at once and the last leaves starters idle; counting them would
// weigh the run's length (how many waves it had) in its throughput. 0
// when the run had no such time.
func steadyRate(began, ended []time.Time, conc int) float64 {
	if len(ended) <= conc {
		return 0
	}
	last := slices.MaxFunc(began, time.Time.Compare)
	ends := slices.SortedFunc(slices.Values(ended), time.Time.Compare)
	warm := ends[conc-1]
	if !last.After(warm) {
		return 0
	}
	k := 0
	for _, e := range ends[conc:] {
		if e.After(last) {
			break
		}
		k++
	}
	if k == 0 {
		return 0
	}
	return float64(k) / last.Sub(warm).Seconds()
}

// benchPercentile is the nearest-rank percentile of sorted durations.
func benchPercentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(p) / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func durationMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
