// Package floor is the benchmarks' floor: a bare workflow with as many
// no-op activities as the order saga runs on its happy path (validate,
// create, reserve, charge, confirm, publish), and a shaped variant that
// adds one of the saga's features at a time (search attributes, summaries,
// payloads) or steps that take time, so that a benchmark can tell what
// each costs the Temporal server. test/floorworker runs them on a worker
// set up as `fedsaga worker` sets up its own.
package floor

import (
	"context"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// Names of the workflows and activities the worker registers.
const (
	Workflow       = "Floor"       // Run, no input
	ShapedWorkflow = "FloorShaped" // Shaped, a Shape as input
	Noop           = "Noop"
	Echo           = "Echo"
	EchoAfter      = "EchoAfter"
)

// forwardSteps are the order saga's forward steps (validate, create,
// reserve, charge, confirm); the publish step comes after them.
const forwardSteps = 5

// Floor is the floor workflow; Local runs the activities as local
// activities (saga.mode = "local": the order saga then runs all six as
// local activities).
type Floor struct {
	Local bool
}

// Run is the bare floor.
func (f Floor) Run(ctx workflow.Context) error {
	return f.Shaped(ctx, Shape{})
}

// Shape adds the order saga's features to the floor, each as the saga
// uses it. The starter adds the rest: the saga's search attributes at
// start (workflows.StartSearchAttributes) and its static summary.
type Shape struct {
	// Upsert upserts SagaStatus and SagaStep after the forward steps, as
	// the saga engine does when the saga completes.
	Upsert bool `json:"upsert,omitempty"`
	// Summaries gives each activity a summary, as the saga names its steps.
	Summaries bool `json:"summaries,omitempty"`
	// Payload, when not 0, makes each activity's input and result a string
	// of that many bytes (Echo instead of Noop).
	Payload int `json:"payload,omitempty"`
	// Pad weighs the workflow's input like the saga's.
	Pad string `json:"pad,omitempty"`
	// DelayMS, when not 0, makes each activity wait that many milliseconds
	// before it returns its input (EchoAfter): steps that take time without
	// spending CPU.
	DelayMS int `json:"delay_ms,omitempty"`
}

// Shaped is the floor with the features s asks for.
func (f Floor) Shaped(ctx workflow.Context, s Shape) error {
	ctx = workflow.WithActivityOptions(ctx, workflows.ForwardOptions)
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    workflows.ForwardOptions.StartToCloseTimeout,
		ScheduleToCloseTimeout: workflows.ForwardOptions.ScheduleToCloseTimeout,
		RetryPolicy:            workflows.ForwardOptions.RetryPolicy,
	})
	activity, args := Noop, []any(nil)
	if s.Payload > 0 {
		activity, args = Echo, []any{strings.Repeat("x", s.Payload)}
	}
	if s.DelayMS > 0 {
		activity, args = EchoAfter, []any{strings.Repeat("x", max(1, s.Payload)), s.DelayMS}
	}
	for i := range forwardSteps + 1 { // and the publish
		if i == forwardSteps && s.Upsert {
			if err := workflow.UpsertTypedSearchAttributes(ctx,
				saga.SagaStatus.ValueSet(saga.StatusCompleted), saga.SagaStep.ValueSet(spec.StepConfirm)); err != nil {
				return err
			}
		}
		actx, alctx := ctx, lctx
		if s.Summaries {
			opts, lopts := workflow.GetActivityOptions(ctx), workflow.GetLocalActivityOptions(lctx)
			opts.Summary = "step " + strconv.Itoa(i+1)
			lopts.Summary = opts.Summary
			actx, alctx = workflow.WithActivityOptions(ctx, opts), workflow.WithLocalActivityOptions(lctx, lopts)
		}
		var fut workflow.Future
		if f.Local {
			fut = workflow.ExecuteLocalActivity(alctx, activity, args...)
		} else {
			fut = workflow.ExecuteActivity(actx, activity, args...)
		}
		if err := fut.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// Register registers the floor's workflows and activities on w; local
// runs the activities as local activities (saga.mode = "local").
func Register(w worker.Registry, local bool) {
	f := Floor{Local: local}
	w.RegisterWorkflowWithOptions(f.Run, workflow.RegisterOptions{Name: Workflow})
	w.RegisterWorkflowWithOptions(f.Shaped, workflow.RegisterOptions{Name: ShapedWorkflow})
	w.RegisterActivityWithOptions(NoopActivity, activity.RegisterOptions{Name: Noop})
	w.RegisterActivityWithOptions(EchoActivity, activity.RegisterOptions{Name: Echo})
	w.RegisterActivityWithOptions(EchoAfterActivity, activity.RegisterOptions{Name: EchoAfter})
}

// NoopActivity does nothing.
func NoopActivity(context.Context) error { return nil }

// EchoActivity returns its input.
func EchoActivity(_ context.Context, in string) (string, error) { return in, nil }

// EchoAfterActivity returns its input after ms milliseconds, or when ctx
// ends.
func EchoAfterActivity(ctx context.Context, in string, ms int) (string, error) {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-ctx.Done():
	}
	return in, nil
}
