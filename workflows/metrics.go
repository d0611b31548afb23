package workflows

import "go.temporal.io/sdk/workflow"

// MetricPublishGaveUp counts order sagas whose publish step gave up after
// Settings.PublishTimeout (NATS unreachable): the event stays in the
// outbox, and the relay publishes it later. Tagged with event_type, and by
// the SDK with namespace, task_queue and workflow_type. Recorded through
// workflow.GetMetricsHandler, so never again on replay.
const MetricPublishGaveUp = "fedsaga_saga_publish_gave_up_total"

// publishGaveUp records a publish step that left its event to the relay.
func publishGaveUp(ctx workflow.Context, eventType string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"event_type": eventType}).Counter(MetricPublishGaveUp).Inc(1)
}
