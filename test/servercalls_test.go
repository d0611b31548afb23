package test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/test/floor"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

// happyServerCalls are the calls a confirmed order saga makes to the
// Temporal frontend, besides the workers' task-queue polls: the start,
// the starter's wait for the result, and one completion per workflow task
// and per regular activity. Regular mode: seven workflow tasks (one per
// step and the publish, and the last), six activities, each handed to the
// worker in the workflow task's completion (eager activities), so none is
// polled. Local mode: one workflow task. The floor (package floor) makes
// the same calls.
var happyServerCalls = map[string]map[string]int{
	config.ModeRegular: {"StartWorkflowExecution": 1, "PollWorkflowExecutionHistory": 1,
		"RespondWorkflowTaskCompleted": 7, "RespondActivityTaskCompleted": 6},
	config.ModeLocal: {"StartWorkflowExecution": 1, "PollWorkflowExecutionHistory": 1,
		"RespondWorkflowTaskCompleted": 1},
}

// TestServerCallsPerSaga counts, from the Temporal server's own metrics,
// the calls that confirmed order sagas and floor workflows make, in both
// modes: the saga makes the calls its floor makes, no more.
func TestServerCallsPerSaga(t *testing.T) {
	s := stack
	const n = 5
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		t.Run(mode, func(t *testing.T) {
			sagaQueue := s.extraWorker(t, func(c *config.Saga) { c.Mode = mode })
			floorQueue := s.floorWorker(t, mode)
			p, customer := s.addProduct(t, 100, 100), s.addCustomer(t, 100_000)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			saga := func() {
				out := s.placeOn(t, sagaQueue, starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer,
					Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}})
				if out.Status != workflows.Confirmed || !out.EventPublished {
					t.Fatalf("outcome %+v, want confirmed and published", out)
				}
			}
			floorRun := func() {
				run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: uniq(t, "floor"), TaskQueue: floorQueue}, floor.Workflow)
				if err == nil {
					err = run.Get(ctx, nil)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			saga() // warm-up: the pools connect, the workers' caches fill
			floorRun()
			want := happyServerCalls[mode]
			for name, run := range map[string]func(){"order saga": saga, "floor": floorRun} {
				before := s.serverCalls(t)
				for range n {
					run()
				}
				calls := s.serverCalls(t)
				for op := range calls {
					switch calls[op] -= before[op]; {
					case calls[op] == 0:
						delete(calls, op)
					case calls[op]%n == 0:
						calls[op] /= n
					}
				}
				t.Logf("%s, per workflow: %v", name, calls)
				if !maps.Equal(calls, want) {
					t.Errorf("%s: calls per workflow %v, want %v", name, calls, want)
				}
			}
		})
	}
}

// floorWorker runs the floor (package floor) on a task queue of its own,
// on a worker set up as fedsaga's.
func (s *Stack) floorWorker(t *testing.T, mode string) string {
	t.Helper()
	queue := uniq(t, "floor-queue")
	w := tworker.New(s.Temporal, queue, worker.Options(s.Config.Worker))
	floor.Register(w, mode == config.ModeLocal)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return queue
}

// serverCalls reads the Temporal frontend's request counts by operation
// (service_requests) from the server's metrics, leaving out the workers'
// task-queue polls, whose number depends on timing. The server publishes
// its counters every second or so: serverCalls reads them until two reads
// 1.5 s apart agree.
func (s *Stack) serverCalls(t *testing.T) map[string]int {
	t.Helper()
	calls := s.readServerCalls(t)
	for range 10 {
		time.Sleep(1500 * time.Millisecond)
		again := s.readServerCalls(t)
		if maps.Equal(again, calls) {
			return calls
		}
		calls = again
	}
	t.Fatalf("the Temporal server's request counts did not settle: %v", calls)
	return nil
}

// readServerCalls reads serverCalls' counts once (scrapeMetrics).
func (s *Stack) readServerCalls(t *testing.T) map[string]int {
	t.Helper()
	calls := map[string]int{}
	for _, m := range scrapeMetrics(t, s.serverMetrics)["service_requests"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		op := labels["operation"]
		if labels["service_name"] != "frontend" || op == "" || strings.HasPrefix(op, "Poll") && strings.HasSuffix(op, "TaskQueue") {
			continue
		}
		calls[op] += int(m.GetCounter().GetValue())
	}
	if len(calls) == 0 {
		t.Fatalf("%s/metrics has no service_requests of the frontend", s.serverMetrics)
	}
	return calls
}
