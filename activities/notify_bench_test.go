package activities_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// BenchmarkStepNotify measures what [saga] notify_steps costs a step: one
// operation is a forward step and its compensation (CreateOrder, then
// CancelOrder: two transactions on the orders database), with the step
// notifications off and on, one at a time and from 4 goroutines (a
// notifying commit takes PostgreSQL's notification queue lock).
//
//	go test ./activities -run '^$' -bench StepNotify -benchtime 3s -count 3
func BenchmarkStepNotify(b *testing.B) {
	a := newActivities(b, 10) // once: the pools connect lazily, up to 4 connections of orders
	for _, notify := range []bool{false, true} {
		for _, par := range []int{1, 4} {
			b.Run(fmt.Sprintf("notify=%v/goroutines=%d", notify, par), func(b *testing.B) {
				a.StepChannel = ""
				if notify {
					a.StepChannel = "fedsaga_bench_steps"
				}
				ctx := context.Background()
				var n atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range par {
					wg.Go(func() {
						for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
							id := fmt.Sprintf("%s-%d", b.Name(), i)
							o := spec.Order{SagaID: "order-" + id, OrderID: id, CustomerID: "alice", TotalCents: 10,
								Lines: []spec.Line{{ProductID: "p1", SKU: "W", Name: "Widget", Quantity: 1, PriceCents: 10}}}
							if err := a.CreateOrder(ctx, o); err != nil {
								b.Error(err)
								return
							}
							if err := a.CancelOrder(ctx, o); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
		}
	}
}
