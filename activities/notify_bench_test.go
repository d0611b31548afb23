package activities_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
)

// BenchmarkStepNotify measures what [saga] notify_steps costs a step. One
// operation is a forward step and its compensation (CreateOrder, then
// CancelOrder: two transactions on the orders database). Operations with
// the notifications off and on alternate in the same loop, so a machine
// whose load changes during the run weighs on both alike; the medians of
// each are reported (ms-off/op, ms-on/op) with their ratio. One goroutine,
// then 4 at once (a notifying commit takes PostgreSQL's notification
// queue lock).
//
//	go test ./activities -run '^$' -bench StepNotify -benchtime 400x
func BenchmarkStepNotify(b *testing.B) {
	a := newActivities(b, 10) // once: the pools connect lazily, up to 4 connections of orders
	off := *a
	on := *a
	on.StepChannel = "fedsaga_bench_steps"
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			ctx := context.Background()
			var n atomic.Int64
			var mu sync.Mutex
			var took [2][]time.Duration
			var wg sync.WaitGroup
			b.ResetTimer()
			for range par {
				wg.Go(func() {
					for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
						acts, k := &off, 0
						if i%2 == 0 {
							acts, k = &on, 1
						}
						id := fmt.Sprintf("%s-%d", b.Name(), i)
						o := spec.Order{SagaID: "order-" + id, OrderID: id, CustomerID: "alice", TotalCents: 10,
							Lines: []spec.Line{{ProductID: "p1", SKU: "W", Name: "Widget", Quantity: 1, PriceCents: 10}}}
						start := time.Now()
						if err := step(ctx, acts, o); err != nil {
							b.Error(err)
							return
						}
						d := time.Since(start)
						mu.Lock()
						took[k] = append(took[k], d)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			median := func(ds []time.Duration) float64 {
				slices.Sort(ds)
				return float64(ds[len(ds)/2].Microseconds()) / 1000
			}
			if len(took[0]) > 0 && len(took[1]) > 0 {
				mOff, mOn := median(took[0]), median(took[1])
				b.ReportMetric(mOff, "ms-off/op")
				b.ReportMetric(mOn, "ms-on/op")
				b.ReportMetric(mOn/mOff, "on/off")
			}
		})
	}
}

func step(ctx context.Context, a *activities.Activities, o spec.Order) error {
	if _, err := a.CreateOrder(ctx, o); err != nil {
		return err
	}
	return a.CancelOrder(ctx, o)
}
