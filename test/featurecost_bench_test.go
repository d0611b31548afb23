package test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/test/floor"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

// featureFloor is a floor that carries some of the order saga's features.
type featureFloor struct {
	name       string
	attributes bool // the saga's search attributes at start, and its upsert
	summaries  bool // a static summary at start, a summary per activity
	payloads   bool // workflow input, activity inputs and results weighing as the saga's
	// start: the saga's start options (one saga per order: the workflow
	// id's reuse and conflict policies; its workflow task timeout).
	start bool
}

// featureFloors are BenchmarkSagaFeatureCost's floors: each feature alone,
// then all of them.
var featureFloors = []featureFloor{
	{name: "floor"},
	{name: "attributes", attributes: true},
	{name: "summaries", summaries: true},
	{name: "payloads", payloads: true},
	{name: "start", start: true},
	{name: "all", attributes: true, summaries: true, payloads: true, start: true},
}

// BenchmarkSagaFeatureCost splits the order saga's latency over its floor
// into what its Temporal features cost and what its own code and database
// work cost. It runs, at conc 1, one worker process each: the floor; the
// floor with the saga's search attributes (three at start, one upsert of
// two when it completes); with its summaries (static, and one per
// activity); with payloads as heavy as the saga's (encrypted by the same
// codec, their size taken from a saga's history in the same run); with its
// start options (the workflow id's reuse and conflict policies that make
// one saga per order, its workflow task timeout); with all four ("all":
// the saga's Temporal features without fedsaga's code); and the order
// saga. One op is one round of the seven, each round in another
// order, as BenchmarkSagaPaired alternates its two, so that a drift of the
// machine's pace weighs on all alike. For each it reports the p50 latency
// (NAME-p50-ms), the median time in a worker and waiting for one
// (NAME-worker-ms, NAME-dispatch-ms, as BenchmarkSagaTimeline splits
// them), the Temporal server's CPU per workflow from its start until
// pairSettle after its end (NAME-server-cpu-ms) and the size of its history
// (NAME-history-B, the events' protobuf encoding); p50-ratio is the saga's
// p50 ÷ the floor's, features-ratio the all floor's ÷ the floor's and
// code-ratio the saga's ÷ the all floor's. It logs each one's median time
// in a worker per task (runs of more than one round).
func BenchmarkSagaFeatureCost(b *testing.B) {
	stack.floorAndSaga(b, 1, func(b *testing.B, pair floorSagaPair) {
		stack.featureCost(b, pair.floorQueue, pair.saga)
	})
}

// featureCost is BenchmarkSagaFeatureCost in one mode: the floors run on
// floorQueue, sagaRun runs the order saga.
func (s *Stack) featureCost(b *testing.B, floorQueue string, sagaRun sagaFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// weight runs one workflow and weighs its history.
	weight := func(name string, run func(context.Context) (string, error)) historyWeight {
		id, err := run(ctx)
		if err == nil {
			var events []*history.HistoryEvent
			if events, err = historyEvents(ctx, s.Temporal, id); err == nil {
				return weigh(events)
			}
		}
		b.Fatalf("%s: %v", name, err)
		return historyWeight{}
	}
	// One saga shows how heavy its payloads are.
	sagaHistory := weight("saga", sagaRun.once)
	shape := s.shapeLike(b, sagaHistory)

	var variants []*contender
	for _, f := range featureFloors {
		variants = append(variants, &contender{name: f.name, run: f.runner(s.Temporal, floorQueue, shape)})
	}
	variants = append(variants, &contender{name: "saga", run: sagaRun.once})
	weights := make([]historyWeight, len(variants))
	for i, v := range variants { // warm-up, and each one's history
		weights[i] = weight(v.name, v.run)
	}
	server := s.serverPIDs()
	inTurn(ctx, b, variants, server)
	p50 := map[string]float64{}
	for i, v := range variants {
		var worker, dispatch []time.Duration
		tasks := map[string][]time.Duration{}
		for _, id := range v.ids {
			events, err := historyEvents(ctx, s.Temporal, id)
			if err != nil {
				b.Fatal(err)
			}
			t := splitTimeline(events)
			worker, dispatch = append(worker, t.worker), append(dispatch, t.dispatch)
			for name, d := range taskTimes(events) {
				tasks[name] = append(tasks[name], d)
			}
		}
		p50[v.name] = durationMS(medianDuration(v.took))
		b.ReportMetric(p50[v.name], v.name+"-p50-ms")
		b.ReportMetric(durationMS(medianDuration(worker)), v.name+"-worker-ms")
		b.ReportMetric(durationMS(medianDuration(dispatch)), v.name+"-dispatch-ms")
		if len(server) > 0 {
			b.ReportMetric(durationMS(v.cpu[0])/float64(b.N), v.name+"-server-cpu-ms")
		}
		b.ReportMetric(float64(weights[i].bytes), v.name+"-history-B")
		var split []string
		for _, name := range slices.Sorted(maps.Keys(tasks)) {
			split = append(split, fmt.Sprintf("%s %.2f", name, durationMS(medianDuration(tasks[name]))))
		}
		if b.N > 1 { // not the testing package's sizing run
			b.Logf("%s: median ms in a worker per task: %s", v.name, strings.Join(split, ", "))
		}
	}
	b.ReportMetric(p50["saga"]/p50["floor"], "p50-ratio")
	b.ReportMetric(p50["all"]/p50["floor"], "features-ratio")
	b.ReportMetric(p50["saga"]/p50["all"], "code-ratio")
	payloads := weights[slices.IndexFunc(variants, func(v *contender) bool { return v.name == "payloads" })]
	b.Logf("saga history: %d events, %d B; activity payloads %d B each on average, workflow input %d B; the payloads floor's: %d B, %d B",
		sagaHistory.events, sagaHistory.bytes, sagaHistory.activityPayload(), sagaHistory.input,
		payloads.activityPayload(), payloads.input)
}

// runner starts the floor with f's features on queue and waits for it.
func (f featureFloor) runner(c client.Client, queue string, like floor.Shape) func(context.Context) (string, error) {
	var shape floor.Shape
	opts := client.StartWorkflowOptions{TaskQueue: queue}
	if f.start {
		opts.WorkflowIDReusePolicy = enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		opts.WorkflowTaskTimeout = starter.WorkflowTaskTimeout
	}
	if f.payloads {
		shape.Payload, shape.Pad = like.Payload, like.Pad
	}
	shape.Summaries, shape.Upsert, shape.DelayMS = f.summaries, f.attributes, like.DelayMS
	return func(ctx context.Context) (string, error) {
		opts := opts
		opts.ID = benchID("floor-" + f.name)
		if f.attributes {
			opts.TypedSearchAttributes = workflows.StartSearchAttributes(workflows.PlaceOrderInput{OrderID: opts.ID, CustomerID: "cust-" + opts.ID})
		}
		if f.summaries {
			opts.StaticSummary = fmt.Sprintf("order %s for cust-%s: 1×SKU-%s", opts.ID, opts.ID, opts.ID)
		}
		run, err := c.ExecuteWorkflow(ctx, opts, floor.ShapedWorkflow, shape)
		if err != nil {
			return "", err
		}
		return opts.ID, run.Get(ctx, nil)
	}
}

// taskTimes is, per task of a history, its time in a worker (Started to
// Completed), keyed by its activity type, or "wft N" for the Nth workflow
// task.
func taskTimes(events []*history.HistoryEvent) map[string]time.Duration {
	times := map[string]time.Duration{}
	started := map[int64]time.Time{}
	kind := map[int64]string{} // Scheduled event id → task name
	wft := 0
	for _, e := range events {
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wft++
			kind[e.GetEventId()] = fmt.Sprintf("wft %d", wft)
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			kind[e.GetEventId()] = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enums.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			started[e.GetEventId()] = e.GetEventTime().AsTime()
			kind[e.GetEventId()] = kind[e.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()]
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			started[e.GetEventId()] = e.GetEventTime().AsTime()
			kind[e.GetEventId()] = kind[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
		case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			id := e.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()
			times[kind[id]] += e.GetEventTime().AsTime().Sub(started[id])
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			id := e.GetActivityTaskCompletedEventAttributes().GetStartedEventId()
			times[kind[id]] += e.GetEventTime().AsTime().Sub(started[id])
		}
	}
	return times
}

// historyWeight is what a workflow's history holds.
type historyWeight struct {
	events, bytes int
	input         int // the workflow input's payload bytes
	// activityBytes sums the activities' input and result payloads (a
	// local activity's result only), activityPayloads counts them.
	activityBytes, activityPayloads int
}

func (h historyWeight) activityPayload() int {
	if h.activityPayloads == 0 {
		return 0
	}
	return h.activityBytes / h.activityPayloads
}

// weigh is what the history events hold.
func weigh(events []*history.HistoryEvent) historyWeight {
	var h historyWeight
	for _, ev := range events {
		h.events++
		h.bytes += proto.Size(ev)
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			h.input = proto.Size(a.GetInput())
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetInput() != nil {
			h.activityBytes += proto.Size(a.GetInput())
			h.activityPayloads++
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil && a.GetResult() != nil {
			h.activityBytes += proto.Size(a.GetResult())
			h.activityPayloads++
		}
		if a := ev.GetMarkerRecordedEventAttributes(); a != nil && a.GetDetails()["result"] != nil {
			// A local activity's result; its input stays in the worker.
			h.activityBytes += proto.Size(a.GetDetails()["result"])
			h.activityPayloads++
		}
	}
	return h
}

// shapeLike returns the floor's shape whose payloads, encoded by the
// stack's codec, weigh as much as those of the saga history h.
func (s *Stack) shapeLike(b *testing.B, h historyWeight) floor.Shape {
	b.Helper()
	opts, err := worker.ClientOptions(s.Config, zerolog.Nop()) // the stack's payload codec
	if err != nil {
		b.Fatal(err)
	}
	// size is the encoded size of a string of n bytes; the codec's
	// overhead does not depend on n.
	size := func(n int) int {
		p, err := opts.DataConverter.ToPayloads(strings.Repeat("x", n))
		if err != nil {
			b.Fatal(err)
		}
		return proto.Size(p)
	}
	shape := floor.Shape{Payload: max(1, h.activityPayload()-size(0))}
	input, err := opts.DataConverter.ToPayloads(shape)
	if err != nil {
		b.Fatal(err)
	}
	shape.Pad = strings.Repeat("x", max(0, h.input-proto.Size(input)))
	return shape
}
