package saga

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// compensate runs the registered compensations, latest first (or at once),
// until each has succeeded or an operator resolved it.
func (s *Saga) compensate(ctx workflow.Context, registered []string, f Failure) error {
	s.state.Reason, s.state.FailedStep = Reason(f.Cause), f.Step
	s.setStatus(ctx, StatusCompensating, fmt.Sprintf("compensating: step %s failed: %s", f.Step, s.state.Reason))
	s.logger.Warn("saga compensating", "step", f.Step, "reason", s.state.Reason)

	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: s.opts.CompensationTimeout,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})

	pending := registered
	aborted := &AbortedError{Failure: f}
	for len(pending) > 0 {
		failed, notRun, cerr := s.runCompensations(dctx, pending, f)
		if len(failed) == 0 {
			break
		}
		s.state.Error, s.state.Step = cerr.Error(), cerr.Step
		s.setStatus(dctx, StatusCompensationFailed, "compensation_failed: "+cerr.Error())
		s.logger.Error("saga compensation failed; waiting for an operator", "step", cerr.Step, "error", cerr)

		if err := workflow.Await(dctx, func() bool { return s.op != nil }); err != nil {
			return err
		}
		resolution := *s.op
		s.op, s.state.Error = nil, ""
		if resolution == "" {
			s.logger.Info("operator retries the compensation", "steps", failed)
			pending = append(failed, notRun...)
		} else {
			s.logger.Info("operator resolved the compensation", "steps", failed, "reason", resolution)
			for _, name := range failed {
				st := &s.state.Steps[s.index[name]]
				st.Status, st.Resolution = StepResolved, resolution
				aborted.Resolved = append(aborted.Resolved, name)
			}
			pending = notRun
		}
		s.setStatus(dctx, StatusCompensating, "compensating after operator action")
	}
	s.state.Step = f.Step // SagaStep: the step that failed
	s.setStatus(dctx, StatusCompensated, "compensated: "+s.state.Reason)
	s.finished(dctx, StatusCompensated, &f)
	s.state.Step = ""
	return aborted
}

// runCompensations runs the named compensations: all at once, or in the
// given order stopping at the first failure unless ContinueWithError. It
// returns the steps whose compensation failed, those it did not run when it
// stopped early, and the error of the first that failed (in names' order).
func (s *Saga) runCompensations(ctx workflow.Context, names []string, f Failure) (failed, notRun []string, first *CompensationError) {
	errs := make([]error, len(names))
	run := func(ctx workflow.Context, k int) {
		i := s.index[names[k]]
		st, ss := s.steps[i], &s.state.Steps[i]
		if st.CompensationOptions != nil {
			ctx = workflow.WithActivityOptions(ctx, *st.CompensationOptions)
		}
		ss.Status, s.state.Step = StepCompensating, st.Name
		s.publish(ctx)
		start := workflow.Now(ctx)
		errs[k] = st.Compensate(ctx, f)
		compensated(ctx, st.Name, start, errs[k])
		ss.CompensationAttempts += max(Attempts(errs[k]), 1) // at least the one that ran
		if errs[k] != nil {
			ss.Status, ss.CompensationError = StepCompensationFailed, Reason(errs[k])
			return
		}
		ss.Status, ss.CompensationError, ss.CompensatedAt = StepCompensated, "", workflow.Now(ctx)
	}
	if s.opts.Parallel {
		wg := workflow.NewWaitGroup(ctx)
		for k := range names {
			wg.Add(1)
			workflow.Go(ctx, func(gctx workflow.Context) {
				defer wg.Done()
				run(gctx, k)
			})
		}
		wg.Wait(ctx)
	} else {
		for k := range names {
			if run(ctx, k); errs[k] != nil && !s.opts.ContinueWithError {
				notRun = names[k+1:]
				break
			}
		}
	}
	for k, err := range errs {
		if err != nil && first == nil {
			first = &CompensationError{Step: names[k], Attempts: s.state.Steps[s.index[names[k]]].CompensationAttempts, Err: err}
		}
		if err != nil {
			failed = append(failed, names[k])
		}
	}
	return failed, notRun, first
}
