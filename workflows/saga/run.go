package saga

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Run runs the steps. It returns nil when every action succeeded, and
// *AbortedError when the saga compensated. While a compensation has failed,
// Run waits for an operator. A saga runs once: a second Run is refused.
func (s *Saga) Run(ctx workflow.Context, steps ...Step) error {
	if s.ran {
		return invalid("Run called twice: a saga runs once")
	}
	seen := map[string]bool{}
	for _, st := range steps {
		if st.Name == "" || seen[st.Name] {
			return invalid(fmt.Sprintf("step name %q is empty or used twice", st.Name))
		}
		seen[st.Name] = true
	}
	s.ran = true
	for _, st := range steps {
		s.add(st)
	}
	runCtx, cancelRun := workflow.WithCancel(ctx)
	defer cancelRun()
	runCtx = workflow.WithValue(runCtx, localKey{}, s.opts.LocalActions)
	s.cancelRun, s.forward = cancelRun, true
	// The saga timeout needs no timer: every action's activities get a
	// ScheduleToClose that ends at the deadline, so a step still running
	// then fails, and the saga compensates.
	var deadline time.Time
	if s.opts.Timeout > 0 {
		deadline = workflow.Now(ctx).Add(s.opts.Timeout)
	}
	timedOut := func() bool { return !deadline.IsZero() && !workflow.Now(ctx).Before(deadline) }

	var registered []string // steps whose compensation may have to run
	for _, st := range steps {
		// Registered before the action runs: it can commit and still report
		// failure. (A step that fails at the deadline before it begins gets
		// a null compensation: harmless when compensations tolerate an
		// action that never ran, and it lets the first step's undo record
		// the outcome.)
		if st.Compensate != nil {
			registered = append(registered, st.Name)
		}
		sctx := runCtx
		if st.Options != nil {
			sctx = workflow.WithActivityOptions(runCtx, *st.Options)
		}
		if !deadline.IsZero() {
			sctx = workflow.WithValue(sctx, deadlineKey{}, deadline)
			sctx = untilDeadline(sctx, deadline.Sub(workflow.Now(ctx)))
		}
		s.begin(ctx, st.Name)
		err := runCtx.Err() // an abort between steps
		if err == nil && timedOut() {
			err = ErrTimeout
		}
		if err == nil {
			err = st.Action(sctx)
		}
		if err == nil && runCtx.Err() == nil {
			s.end(ctx, st.Name, nil)
			continue
		}
		switch {
		case s.abort != "":
			err = fmt.Errorf("%w: %s", ErrAborted, s.abort)
		case timedOut() || errors.Is(err, ErrTimeout):
			err = fmt.Errorf("%w (%s)", ErrTimeout, s.opts.Timeout)
		case ctx.Err() != nil:
			err = ErrCancelled
		}
		s.end(ctx, st.Name, err)
		s.forward = false
		return s.compensate(ctx, registered, Failure{Step: st.Name, Cause: err})
	}
	s.forward = false
	if len(steps) > 0 {
		s.state.Step = steps[len(steps)-1].Name // SagaStep: the last step
	}
	s.setStatus(ctx, StatusCompleted, "")
	s.state.Step = ""
	return nil
}

// Finally runs a step after Run decided the saga's outcome, such as
// publishing it: recorded in the state like the others, never compensated,
// and run even when the workflow was cancelled. Before Run it is refused.
func (s *Saga) Finally(ctx workflow.Context, name string, fn func(ctx workflow.Context) error) error {
	if !s.ran {
		return invalid(fmt.Sprintf("Finally(%q) called before Run", name))
	}
	if _, dup := s.index[name]; dup || name == "" {
		return invalid(fmt.Sprintf("step name %q is empty or used twice", name))
	}
	s.add(Step{Name: name})
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	s.begin(dctx, name)
	err := fn(dctx)
	s.end(dctx, name, err)
	s.state.Step = ""
	workflow.SetCurrentDetails(dctx, "finished: "+s.state.Status)
	return err
}

// add appends a step to the saga, in steps and in the state alike.
func (s *Saga) add(st Step) {
	s.index[st.Name] = len(s.steps)
	s.steps = append(s.steps, st)
	s.state.Steps = append(s.state.Steps, StepState{Name: st.Name, Status: StepPending})
}

func (s *Saga) begin(ctx workflow.Context, name string) {
	ss := &s.state.Steps[s.index[name]]
	ss.Status, ss.StartedAt = StepRunning, workflow.Now(ctx)
	s.state.Step = name
	s.state.UpdatedAt = ss.StartedAt
	s.publish(ctx)
	workflow.SetCurrentDetails(ctx, "step "+name+" in progress")
}

// end records the outcome of a step's action: done, or failed with err.
func (s *Saga) end(ctx workflow.Context, name string, err error) {
	ss := &s.state.Steps[s.index[name]]
	ss.Status, ss.EndedAt = StepDone, workflow.Now(ctx)
	ss.Attempts = max(Attempts(err), 1) // exact for failures; at least 1 otherwise
	if err != nil {
		ss.Status, ss.Error = StepFailed, Reason(err)
	}
	s.state.UpdatedAt = ss.EndedAt
}

// untilDeadline caps the ScheduleToClose of the activities started with ctx
// at the time left before the saga's deadline.
func untilDeadline(ctx workflow.Context, left time.Duration) workflow.Context {
	left = max(left, time.Millisecond)
	opts := workflow.GetActivityOptions(ctx)
	if opts.ScheduleToCloseTimeout == 0 || opts.ScheduleToCloseTimeout > left {
		opts.ScheduleToCloseTimeout = left
	}
	if opts.StartToCloseTimeout > left {
		opts.StartToCloseTimeout = left
	}
	return workflow.WithActivityOptions(ctx, opts)
}

// localKey marks a context whose Execute calls run as local activities.
type localKey struct{}

// deadlineKey holds the saga's deadline in a step's context.
type deadlineKey struct{}

// Execute runs an activity, given as a function or by its registered name
// as with workflow.ExecuteActivity, with the activity options of ctx: as a
// local activity inside Run's forward actions when Options.LocalActions is
// set, as a regular activity otherwise.
//
// Inside a saga with a Timeout, the activity's ScheduleToClose ends at the
// saga's deadline, counted when it is scheduled; when that cut ends its
// retries, the error wraps ErrTimeout.
func Execute(ctx workflow.Context, activity any, args ...any) workflow.Future {
	deadline, ok := ctx.Value(deadlineKey{}).(time.Time)
	if !ok {
		return execute(ctx, activity, args...)
	}
	left := deadline.Sub(workflow.Now(ctx))
	capped := workflow.GetActivityOptions(ctx).ScheduleToCloseTimeout >= left
	f := execute(untilDeadline(ctx, left), activity, args...)
	if !capped {
		return f
	}
	out, set := workflow.NewFuture(ctx)
	workflow.Go(ctx, func(gctx workflow.Context) {
		if err := f.Get(gctx, nil); err != nil && cutByDeadline(err) {
			set.SetError(fmt.Errorf("%w: %w", ErrTimeout, err))
			return
		}
		set.Chain(f)
	})
	return out
}

// cutByDeadline reports an activity that stopped because its ScheduleToClose
// (the saga's deadline) passed.
func cutByDeadline(err error) bool {
	var act *temporal.ActivityError
	if errors.As(err, &act) && act.RetryState() == enumspb.RETRY_STATE_TIMEOUT {
		return true
	}
	var te *temporal.TimeoutError
	return errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
}

func execute(ctx workflow.Context, activity any, args ...any) workflow.Future {
	if local, _ := ctx.Value(localKey{}).(bool); local {
		ao := workflow.GetActivityOptions(ctx)
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: ao.ScheduleToCloseTimeout,
			StartToCloseTimeout:    ao.StartToCloseTimeout,
			RetryPolicy:            ao.RetryPolicy,
			Summary:                ao.Summary,
		})
		return workflow.ExecuteLocalActivity(lctx, activity, args...)
	}
	return workflow.ExecuteActivity(ctx, activity, args...)
}

// Activity is an action that runs the activity, a function or a registered
// name, with args and waits for it (see Execute).
func Activity(activity any, args ...any) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		return Execute(ctx, activity, args...).Get(ctx, nil)
	}
}

// Undo is a compensation that runs the activity, a function or a registered
// name, with args and waits for it.
func Undo(activity any, args ...any) func(workflow.Context, Failure) error {
	return func(ctx workflow.Context, _ Failure) error {
		return Execute(ctx, activity, args...).Get(ctx, nil)
	}
}
