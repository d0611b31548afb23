package test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/workflows"
)

// BenchmarkSagaSteps runs the happy path's six activities one after the
// other, called in the benchmark process without Temporal, on the stack's
// databases and NATS, with the worker's settings: validate, create,
// reserve, charge, confirm, publish. Its p50 is the database and NATS
// work on the critical path of one saga at concurrency 1 (8 statements,
// four durable commits, two acknowledged publishes) on an otherwise idle
// machine, which the floor does not have (BenchmarkSagaStepsLoaded: the
// same with the floor running). pg-cpu-ms/op is PostgreSQL's CPU for that
// work, bench-cpu-ms/op the activities' own and NATS's.
func BenchmarkSagaSteps(b *testing.B) {
	runSteps(b, stack.sagaSteps(b))
}

// BenchmarkSagaStepsLoaded runs what BenchmarkSagaSteps does while the
// floor of mode runs on the same Temporal server at conc 1 (one floor
// worker process, one starter, saga after saga): the saga's database and
// NATS work as it goes inside a saga, where the Temporal server's own work
// for the workflow (about one core on two, at conc 1) runs at the same time
// on the same cores. Its p50 is what the steps add to the floor's p50 at
// conc 1, so (floor p50 + its p50) ÷ floor p50 is the p50 ratio the saga's
// own work allows (benchreport). stmt-ms is the mean time of one of its
// statements, as the pools' query tracer measures it; floors/s the load.
func BenchmarkSagaStepsLoaded(b *testing.B) {
	s := stack
	workers := &benchWorkers{s: s}
	b.Cleanup(workers.stop)
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		b.Run("mode="+mode, func(b *testing.B) {
			set := workerSet{mode: mode, n: 1}
			queue := workers.use(b, set)
			floor := s.sagaRunner(b, s.Temporal, kindFloor, set, queue, 1)
			one := s.sagaSteps(b)
			ctx, cancel := context.WithCancel(context.Background())
			var floors atomic.Int64
			loadErr := make(chan error, 1)
			go func() {
				for {
					err := floor(ctx, 0)
					if ctx.Err() != nil {
						loadErr <- nil
						return
					}
					if err != nil {
						loadErr <- err
						return
					}
					floors.Add(1)
				}
			}()
			// The load runs a few floors before the steps start, and while
			// they run.
			for floors.Load() < 3 {
				select {
				case err := <-loadErr:
					cancel()
					b.Fatalf("floor load: %v", err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			began, before := time.Now(), floors.Load()
			runSteps(b, one)
			n := floors.Load() - before
			elapsed := time.Since(began)
			cancel()
			if err := <-loadErr; err != nil {
				b.Fatalf("floor load: %v", err)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "floors/s")
		})
	}
}

// sagaSteps returns the happy path's six activities, one after the
// other, on the stack's databases and NATS, with the worker's settings.
func (s *Stack) sagaSteps(b *testing.B) func() error {
	acts, err := activities.New(s.DBs, s.Config.Federation, s.JetStream)
	if err != nil {
		b.Fatal(err)
	}
	acts.Partitions = s.Config.NATS.Partitions.Count // as the worker sets it
	fx := s.benchFixtures(b, 1, 1_000_000_000_000_000)[0]
	ctx := context.Background()
	return func() error {
		id := benchID("steps")
		priced, err := acts.Validate(ctx, spec.ValidateInput{OrderID: id, CustomerID: fx.customer,
			Items: []spec.Item{{SKU: fx.sku, Quantity: 1}}})
		if err != nil {
			return err
		}
		o := spec.Order{SagaID: workflows.OrderWorkflowID(id), OrderID: id, CustomerID: fx.customer,
			Lines: priced.Lines, TotalCents: priced.TotalCents}
		for _, step := range []forwardStep{
			acts.CreateOrder, acts.ReserveInventory, acts.ChargePayment, acts.ConfirmOrder,
		} {
			if _, err := step(ctx, o); err != nil {
				return err
			}
		}
		_, err = acts.PublishEvent(ctx, spec.PublishInput{OrderID: id, EventType: events.TypeConfirmed})
		return err
	}
}

// runSteps runs one b.N times and reports its p50, the mean time of its
// statements (stmt-ms) and the CPU per run of PostgreSQL and of this
// process (the activities and NATS; with a load, the starter's too).
func runSteps(b *testing.B, one func() error) {
	s := stack
	latencies := make([]time.Duration, 0, b.N)
	stmts := newStatementClock(b)
	cpuBefore := s.sampleCPU(nil)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := one(); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	cpu := s.sampleCPU(nil).since(cpuBefore)
	slices.Sort(latencies)
	b.ReportMetric(durationMS(benchPercentile(latencies, 50)), "p50-ms")
	if mean, ok := stmts.mean(b); ok {
		b.ReportMetric(durationMS(mean), "stmt-ms")
	}
	for _, group := range []string{cpuPostgres, cpuBench} {
		b.ReportMetric(durationMS(cpu[group])/float64(b.N), group+"-cpu-ms/op")
	}
}

// statementClock reads the stack's pools' query latency histogram
// (fedsaga_database_query_seconds, every database): the statements run
// since it was made and their mean time.
type statementClock struct {
	reg    *prometheus.Registry
	sum0   float64
	count0 uint64
}

func newStatementClock(b *testing.B) *statementClock {
	c := &statementClock{reg: prometheus.NewRegistry()}
	c.reg.MustRegister(stack.DBs.Collector())
	c.sum0, c.count0 = c.read(b)
	return c
}

func (c *statementClock) read(b *testing.B) (float64, uint64) {
	mfs, err := c.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	var count uint64
	for _, mf := range mfs {
		if mf.GetName() != "fedsaga_database_query_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
			count += m.GetHistogram().GetSampleCount()
		}
	}
	return sum, count
}

// mean is the mean time of the statements run since the clock was made.
func (c *statementClock) mean(b *testing.B) (time.Duration, bool) {
	sum, count := c.read(b)
	if count == c.count0 {
		return 0, false
	}
	return time.Duration((sum - c.sum0) / float64(count-c.count0) * float64(time.Second)), true
}
