package test

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestSplitTimeline checks BenchmarkSagaTimeline's arithmetic on a made-up
// history: a workflow task, an activity that fails once and is retried by
// the server, a second workflow task.
func TestSplitTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var events []*history.HistoryEvent
	add := func(id int64, typ enums.EventType, at time.Time, set func(*history.HistoryEvent)) {
		e := &history.HistoryEvent{EventId: id, EventType: typ, EventTime: timestamppb.New(at)}
		if set != nil {
			set(e)
		}
		events = append(events, e)
	}
	// workflowTask adds a workflow task's three events, scheduled at id.
	workflowTask := func(id int64, scheduled, started, completed int) {
		add(id, enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, ms(scheduled), nil)
		add(id+1, enums.EVENT_TYPE_WORKFLOW_TASK_STARTED, ms(started), func(e *history.HistoryEvent) {
			e.Attributes = &history.HistoryEvent_WorkflowTaskStartedEventAttributes{
				WorkflowTaskStartedEventAttributes: &history.WorkflowTaskStartedEventAttributes{ScheduledEventId: id}}
		})
		add(id+2, enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, ms(completed), func(e *history.HistoryEvent) {
			e.Attributes = &history.HistoryEvent_WorkflowTaskCompletedEventAttributes{
				WorkflowTaskCompletedEventAttributes: &history.WorkflowTaskCompletedEventAttributes{ScheduledEventId: id, StartedEventId: id + 1}}
		})
	}
	add(1, enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, ms(0), nil)
	workflowTask(2, 0, 2, 10) // 2 ms waiting, 8 ms in the worker
	add(5, enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, ms(10), nil)
	// A history keeps the last attempt's Started event only: the first
	// attempt and the retry's backoff (30 ms) count as waiting, as the
	// benchmark says.
	add(6, enums.EVENT_TYPE_ACTIVITY_TASK_STARTED, ms(41), func(e *history.HistoryEvent) {
		e.Attributes = &history.HistoryEvent_ActivityTaskStartedEventAttributes{
			ActivityTaskStartedEventAttributes: &history.ActivityTaskStartedEventAttributes{ScheduledEventId: 5, Attempt: 2}}
	})
	add(7, enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, ms(45), func(e *history.HistoryEvent) { // 4 ms in the worker
		e.Attributes = &history.HistoryEvent_ActivityTaskCompletedEventAttributes{
			ActivityTaskCompletedEventAttributes: &history.ActivityTaskCompletedEventAttributes{ScheduledEventId: 5, StartedEventId: 6}}
	})
	workflowTask(8, 45, 46, 49) // 1 ms waiting, 3 ms in the worker
	add(11, enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, ms(49), nil)

	got := splitTimeline(events)
	want := timeline{started: ms(0), closed: ms(49), dispatch: 34 * time.Millisecond, worker: 15 * time.Millisecond}
	if got != want {
		t.Fatalf("splitTimeline = %+v, want %+v", got, want)
	}
}

// TestLocalSteps checks the local mode split of BenchmarkSagaTimeline: two
// workflow tasks, the first with two local activities, whose markers follow
// its Completed event; the second with none.
func TestLocalSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	dc := converter.GetDefaultDataConverter()
	var events []*history.HistoryEvent
	add := func(typ enums.EventType, at time.Time) {
		events = append(events, &history.HistoryEvent{EventId: int64(len(events) + 1), EventType: typ, EventTime: timestamppb.New(at)})
	}
	marker := func(at time.Time, name string, replay time.Time) {
		data, err := dc.ToPayloads(struct {
			ActivityType string
			ReplayTime   time.Time
		}{"Noop", replay})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, &history.HistoryEvent{EventId: int64(len(events) + 1), EventType: enums.EVENT_TYPE_MARKER_RECORDED,
			EventTime: timestamppb.New(at), Attributes: &history.HistoryEvent_MarkerRecordedEventAttributes{
				MarkerRecordedEventAttributes: &history.MarkerRecordedEventAttributes{MarkerName: name,
					Details: map[string]*commonpb.Payloads{"data": data}}}})
	}
	add(enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, ms(0))
	add(enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, ms(0))
	add(enums.EVENT_TYPE_WORKFLOW_TASK_STARTED, ms(2))
	add(enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, ms(15))
	marker(ms(15), localActivityMarker, ms(5))
	marker(ms(15), localActivityMarker, ms(11)) // steps 9 ms, finish 4 ms
	marker(ms(15), "Version", ms(14))           // not a local activity
	add(enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, ms(20))
	add(enums.EVENT_TYPE_WORKFLOW_TASK_STARTED, ms(21))
	add(enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, ms(23))
	add(enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, ms(23))

	steps, finish, err := localSteps(events, dc)
	if err != nil || steps != 9*time.Millisecond || finish != 4*time.Millisecond {
		t.Fatalf("localSteps = %v, %v, %v; want 9ms, 4ms, nil", steps, finish, err)
	}
}
