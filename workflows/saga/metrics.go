package saga

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Metrics every saga records through workflow.GetMetricsHandler, which
// records nothing while a workflow replays: a saga counts once, whichever
// worker replays it later. The names are as Prometheus shows them with
// the worker's handler (package worker); besides the tags below, the SDK
// tags each with namespace, task_queue and workflow_type (the saga type).
const (
	// MetricFinished counts sagas that reached an outcome: status
	// (completed or compensated), failure_type (the error type of the
	// failed step: OutOfStockError, InsufficientFundsError, ...; timeout,
	// aborted or cancelled; none when completed) and failed_step (none
	// when completed). A saga counts when its outcome is decided, before
	// its Finally steps.
	MetricFinished = "fedsaga_saga_finished_total"
	// MetricDuration is the histogram of the time from the workflow's start
	// to the outcome, by status; a compensated saga's includes the time it
	// waited for an operator.
	MetricDuration = "fedsaga_saga_duration_seconds"
	// MetricStepDuration is the histogram of each step's time: step, phase
	// (forward, compensation or finally) and result (ok or failed).
	MetricStepDuration = "fedsaga_saga_step_duration_seconds"
	// MetricCompensations counts compensations run, by step: each run of a
	// step's compensation with its retries, also one an operator retried.
	MetricCompensations = "fedsaga_saga_compensations_total"
	// MetricCompensationFailures counts compensations that still failed
	// after their retries (the saga went to compensation_failed), by step.
	MetricCompensationFailures = "fedsaga_saga_compensation_failures_total"
)

// Tag values.
const (
	tagNone         = "none"
	PhaseForward    = "forward"
	PhaseCompensate = "compensation"
	PhaseFinally    = "finally"
)

// finished records the saga's outcome: status, and for a compensated saga
// the failure that made it compensate.
func (s *Saga) finished(ctx workflow.Context, status string, f *Failure) {
	failureType, step := tagNone, tagNone
	if f != nil {
		failureType, step = FailureType(f.Cause), f.Step
	}
	m := workflow.GetMetricsHandler(ctx)
	m.WithTags(map[string]string{"status": status, "failure_type": failureType, "failed_step": step}).
		Counter(MetricFinished).Inc(1)
	m.WithTags(map[string]string{"status": status}).
		Timer(MetricDuration).Record(workflow.Now(ctx).Sub(workflow.GetInfo(ctx).WorkflowStartTime))
}

// stepTook records the time of one step's action or compensation.
func stepTook(ctx workflow.Context, step, phase string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"step": step, "phase": phase, "result": result}).
		Timer(MetricStepDuration).Record(d)
}

// compensated records a compensation that ran, and whether it failed.
func compensated(ctx workflow.Context, step string, start time.Time, err error) {
	stepTook(ctx, step, PhaseCompensate, workflow.Now(ctx).Sub(start), err)
	m := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"step": step})
	m.Counter(MetricCompensations).Inc(1)
	if err != nil {
		m.Counter(MetricCompensationFailures).Inc(1)
	}
}

// FailureType is the failure_type tag of a saga that compensated because
// of err: timeout, aborted or cancelled for the engine's own causes, the
// application error's type (OutOfStockError, ...) for a failed activity,
// activity_timeout for an activity that timed out, else "error". The set
// of values is bounded by the error types of the saga's activities.
func FailureType(err error) string {
	switch {
	case err == nil:
		return tagNone
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrAborted):
		return "aborted"
	case errors.Is(err, ErrCancelled):
		return "cancelled"
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		return app.Type()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "activity_timeout"
	}
	return "error"
}
