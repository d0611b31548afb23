package test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"

	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

func activityInfo(ctx context.Context) activity.Info { return activity.GetInfo(ctx) }

// activityKinds reads a saga's history: which activities ran as local
// activities (marker events) and which as regular activities.
func (s *Stack) activityKinds(t *testing.T, orderID string) (local, regular map[string]bool) {
	t.Helper()
	local, regular = map[string]bool{}, map[string]bool{}
	opts, err := worker.ClientOptions(s.Config, zerolog.Nop()) // the stack's payload codec
	if err != nil {
		t.Fatal(err)
	}
	it := s.Temporal.GetWorkflowHistory(context.Background(), workflows.OrderWorkflowID(orderID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			regular[ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()] = true
		case enums.EVENT_TYPE_MARKER_RECORDED:
			if p, ok := ev.GetMarkerRecordedEventAttributes().GetDetails()["data"]; ok && len(p.GetPayloads()) > 0 {
				var data struct {
					ActivityType string
				}
				if opts.DataConverter.FromPayload(p.GetPayloads()[0], &data) == nil && data.ActivityType != "" {
					local[data.ActivityType] = true
				}
			}
		}
	}
	return local, regular
}

// markers counts the marker events of a saga's history by marker name
// (SideEffect, Version, LocalActivity).
func (s *Stack) markers(t *testing.T, orderID string) map[string]int {
	t.Helper()
	n := map[string]int{}
	it := s.Temporal.GetWorkflowHistory(context.Background(), workflows.OrderWorkflowID(orderID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enums.EVENT_TYPE_MARKER_RECORDED {
			n[ev.GetMarkerRecordedEventAttributes().GetMarkerName()]++
		}
	}
	return n
}
