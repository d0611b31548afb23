package test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/workflows"
)

// BenchmarkSagaSteps runs the happy path's six activities one after the
// other, called in the benchmark process without Temporal, on the stack's
// databases and NATS, with the worker's settings: validate, create,
// reserve, charge, confirm, publish. Its p50 is the database and NATS
// work on the critical path of one saga at concurrency 1 (16 statements,
// four durable commits, two acknowledged publishes), which the floor does
// not have: p50(happy) − p50(floor) at conc 1 compares with it, in the same
// run. pg-cpu-ms/op is PostgreSQL's CPU for that work, bench-cpu-ms/op the
// activities' own and NATS's.
func BenchmarkSagaSteps(b *testing.B) {
	s := stack
	acts, err := activities.New(s.DBs, s.Config.Federation, s.JetStream)
	if err != nil {
		b.Fatal(err)
	}
	acts.Partitions = s.Config.NATS.Partitions.Count // as the worker sets it
	fx := s.benchFixtures(b, 1, 1_000_000_000_000_000)[0]
	ctx := context.Background()
	one := func() error {
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
	latencies := make([]time.Duration, 0, b.N)
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
	for _, group := range []string{cpuPostgres, cpuBench} {
		b.ReportMetric(durationMS(cpu[group])/float64(b.N), group+"-cpu-ms/op")
	}
}
