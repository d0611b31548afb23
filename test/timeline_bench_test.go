package test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/worker"
)

// BenchmarkSagaTimeline splits a saga's latency at conc 1, as its starter
// sees it, into where the time goes, from the events of its history (the
// server stamps them; it runs on this machine's clock):
//
//   - start-ms: from the start call to the WorkflowExecutionStarted event;
//   - dispatch-ms: tasks waiting to reach a worker (each workflow or
//     activity task's Scheduled to Started event; for an activity the
//     server retried, the history keeps the last attempt's Started event
//     only, so the earlier attempts and their backoff count here too);
//   - worker-ms: tasks in a worker (Started to Completed, Failed or
//     TimedOut): a local activity's time is in its workflow task's;
//   - server-ms: the rest of the time between Started and the close event,
//     when no task was out (timers, retries' backoff, the history's own
//     processing between a completion and the next schedule);
//   - result-ms: from the close event until the starter has the result;
//   - in local mode, worker-ms splits in two (localSteps): steps-ms, from
//     a workflow task's Started event to the completion of its last local
//     activity, and finish-ms, from there to its Completed event (the
//     workflow code after the last step, the completion's request and the
//     server until it records it).
//
// Each is the median over the sagas; p50-ms is the latency's. The floor
// and the order saga run on the same server, one worker process each.
func BenchmarkSagaTimeline(b *testing.B) {
	s := stack
	workers := &benchWorkers{s: s}
	b.Cleanup(workers.stop)
	opts, err := worker.ClientOptions(s.Config, zerolog.Nop()) // the stack's payload codec
	if err != nil {
		b.Fatal(err)
	}
	dc := opts.DataConverter
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		for _, kind := range []string{kindFloor, kindHappy} {
			b.Run(fmt.Sprintf("mode=%s/kind=%s", mode, kind), func(b *testing.B) {
				set := workerSet{fedsaga: kind != kindFloor, mode: mode, n: 1, publishTimeout: 2 * time.Minute}
				queue := workers.use(b, set)
				start := s.sagaRun(b, s.Temporal, kind, set, queue, 1)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				type run struct {
					id         string
					began, got time.Time
				}
				runs := make([]run, b.N)
				b.ResetTimer()
				for i := range b.N {
					began := time.Now()
					id, err := start(ctx, 0)
					if err != nil {
						b.Fatal(err)
					}
					runs[i] = run{id: id, began: began, got: time.Now()}
				}
				b.StopTimer()
				var latency, begin, dispatch, worker, server, result, steps, finish []time.Duration
				for _, r := range runs {
					events, err := historyEvents(ctx, s.Temporal, r.id)
					if err != nil {
						b.Fatal(err)
					}
					t := splitTimeline(events)
					if mode == config.ModeLocal {
						st, fin, err := localSteps(events, dc)
						if err != nil {
							b.Fatal(err)
						}
						steps, finish = append(steps, st), append(finish, fin)
					}
					latency = append(latency, r.got.Sub(r.began))
					begin = append(begin, t.started.Sub(r.began))
					dispatch = append(dispatch, t.dispatch)
					worker = append(worker, t.worker)
					server = append(server, t.closed.Sub(t.started)-t.dispatch-t.worker)
					result = append(result, r.got.Sub(t.closed))
				}
				for name, ds := range map[string][]time.Duration{
					"p50-ms": latency, "start-ms": begin, "dispatch-ms": dispatch,
					"worker-ms": worker, "server-ms": server, "result-ms": result,
					"steps-ms": steps, "finish-ms": finish,
				} {
					if len(ds) > 0 {
						b.ReportMetric(durationMS(medianDuration(ds)), name)
					}
				}
			})
		}
	}
}

// historyEvents reads a closed workflow's whole history.
func historyEvents(ctx context.Context, c client.Client, id string) ([]*history.HistoryEvent, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*history.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// timeline is a history's events split as BenchmarkSagaTimeline reports.
type timeline struct {
	started, closed  time.Time
	dispatch, worker time.Duration
}

// splitTimeline sums, over the workflow and activity tasks of a history,
// the time each waited for a worker (Scheduled to Started) and spent in
// one (Started to its end).
func splitTimeline(events []*history.HistoryEvent) timeline {
	var t timeline
	at := map[int64]time.Time{} // Scheduled and Started events by id
	for _, e := range events {
		when := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			t.started = when
		case enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			at[e.GetEventId()] = when
		case enums.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			t.dispatch += when.Sub(at[e.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()])
			at[e.GetEventId()] = when
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			t.dispatch += when.Sub(at[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()])
			at[e.GetEventId()] = when
		case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			t.worker += when.Sub(at[e.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()])
		case enums.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			t.worker += when.Sub(at[e.GetWorkflowTaskFailedEventAttributes().GetStartedEventId()])
		case enums.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			t.worker += when.Sub(at[e.GetWorkflowTaskTimedOutEventAttributes().GetStartedEventId()])
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			t.worker += when.Sub(at[e.GetActivityTaskCompletedEventAttributes().GetStartedEventId()])
		case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			t.worker += when.Sub(at[e.GetActivityTaskFailedEventAttributes().GetStartedEventId()])
		case enums.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			t.worker += when.Sub(at[e.GetActivityTaskTimedOutEventAttributes().GetStartedEventId()])
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enums.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enums.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
			enums.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			t.closed = when
		}
	}
	return t
}

// localActivityMarker is the name of the marker that records a local
// activity (the SDK's).
const localActivityMarker = "LocalActivity"

// localSteps splits the time of a history's workflow tasks that ran
// local activities at the last one's completion, which the worker records
// in its marker (ReplayTime: the task's Started time plus the time since
// the worker took the task): steps is the time up to it, finish the rest
// of the task, summed over the tasks. The markers follow their task's
// Completed event.
func localSteps(events []*history.HistoryEvent, dc converter.DataConverter) (steps, finish time.Duration, err error) {
	var started, completed, last time.Time
	flush := func() {
		if !last.IsZero() {
			steps += last.Sub(started)
			finish += completed.Sub(last)
		}
		last = time.Time{}
	}
	for _, e := range events {
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			flush()
			started = e.GetEventTime().AsTime()
		case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			completed = e.GetEventTime().AsTime()
		case enums.EVENT_TYPE_MARKER_RECORDED:
			m := e.GetMarkerRecordedEventAttributes()
			if m.GetMarkerName() != localActivityMarker {
				continue
			}
			var data struct{ ReplayTime time.Time }
			if err := dc.FromPayloads(m.GetDetails()["data"], &data); err != nil {
				return 0, 0, fmt.Errorf("local activity marker %d: %w", e.GetEventId(), err)
			}
			if data.ReplayTime.After(last) {
				last = data.ReplayTime
			}
		}
	}
	flush()
	return steps, finish, nil
}

// medianDuration is the median of ds (not empty).
func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2]
}
