// Package saga is fedsaga's saga engine for Temporal workflows.
//
// A saga is an ordered list of steps. Each step has a forward action and,
// when it can be undone, a compensation. The engine runs the actions in
// order; when one fails for good, when the saga's timeout passes, or when the
// workflow is cancelled, it runs the compensations of every step that may
// have run, in reverse order, in a disconnected context so that a cancelled
// workflow still compensates.
//
// A step's compensation is registered before its action runs: an action can
// commit and still report failure (a timeout, a lost response), so the
// compensation of the failed step runs too. Compensations must therefore be
// idempotent and must tolerate an action that never ran; fedsaga's
// activities do both through the barrier table.
//
// Writing a saga:
//
//	s := saga.New(saga.Options{Timeout: 5 * time.Minute, CompensationTimeout: 10 * time.Minute})
//	err := s.Run(ctx,
//		saga.Step{
//			Name:       "reserve",
//			Action:     saga.Activity("Reserve", in),
//			Compensate: saga.Undo("Release", in),
//		},
//		saga.Step{Name: "charge", Action: ..., Compensate: ...},
//	)
//	var aborted *saga.AbortedError // the saga compensated
//	var failed *saga.CompensationError // a compensation failed too
package saga

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Statuses of a saga and of its steps, as the state query reports them.
const (
	StatusRunning            = "running"
	StatusCompensating       = "compensating"
	StatusCompensationFailed = "compensation_failed"
	StatusCompleted          = "completed"
	StatusCompensated        = "compensated"

	StepPending      = "pending"
	StepRunning      = "running"
	StepDone         = "done"
	StepFailed       = "failed"
	StepCompensating = "compensating"
	StepCompensated  = "compensated"
	StepCompFailed   = "compensation_failed"
)

// ErrTimeout is the cause of a saga that ran out of its Options.Timeout.
var ErrTimeout = errors.New("saga timeout passed")

// Step is one step of a saga.
type Step struct {
	// Name identifies the step in the state, the logs and the errors.
	Name string
	// Action is the forward action.
	Action func(ctx workflow.Context) error
	// Compensate undoes Action; nil when there is nothing to undo. It is
	// called with the failure that made the saga compensate.
	Compensate func(ctx workflow.Context, f Failure) error
}

// Failure is why a saga compensates.
type Failure struct {
	Step  string // the step whose action failed, or the step running at timeout or cancellation
	Cause error
}

// Options tune a saga run. The zero value runs without timeout, compensates
// sequentially and stops at the first compensation that fails.
type Options struct {
	// Timeout bounds the forward actions in all; when it passes, the saga
	// compensates. 0: no timeout.
	Timeout time.Duration
	// CompensationTimeout is how long each compensation is retried
	// (its activities' ScheduleToClose). Default 10 minutes.
	CompensationTimeout time.Duration
	// Parallel runs the compensations at once instead of in reverse order.
	Parallel bool
	// ContinueWithError runs the remaining compensations when one fails
	// (sequential mode).
	ContinueWithError bool
	// Logger logs the saga's progress; default workflow.GetLogger. Give it
	// the saga's business keys (log.With(logger, "order_id", id)).
	Logger log.Logger
}

// AbortedError is returned by Run when a step failed and every
// compensation succeeded.
type AbortedError struct {
	Failure
}

func (e *AbortedError) Error() string {
	return fmt.Sprintf("saga compensated after step %s failed: %v", e.Step, e.Cause)
}

func (e *AbortedError) Unwrap() error { return e.Cause }

// CompensationError (SagaCompensationError) is returned by Run when a
// compensation still failed after its retries. It names the step, the
// attempts and the cause.
type CompensationError struct {
	Failure           // what made the saga compensate
	Step       string // the step whose compensation failed
	RetryState string // why retrying stopped, e.g. RETRY_STATE_TIMEOUT
	Err        error
}

func (e *CompensationError) Error() string {
	return fmt.Sprintf("SagaCompensationError: compensation of step %s failed (%s): %v (saga compensating because step %s failed: %v)",
		e.Step, e.RetryState, e.Err, e.Failure.Step, e.Cause)
}

func (e *CompensationError) Unwrap() error { return e.Err }

// StepState is one step as the state query reports it.
type StepState struct {
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// State is a saga's progress.
type State struct {
	Status string      `json:"status"`
	Step   string      `json:"step,omitempty"` // the step in progress
	Reason string      `json:"reason,omitempty"`
	Steps  []StepState `json:"steps"`
}

// Saga runs one list of steps.
type Saga struct {
	opts  Options
	state State
}

// New returns a saga with the given options.
func New(opts Options) *Saga {
	if opts.CompensationTimeout <= 0 {
		opts.CompensationTimeout = 10 * time.Minute
	}
	return &Saga{opts: opts, state: State{Status: StatusRunning}}
}

// State returns the saga's progress; register it as a query handler.
func (s *Saga) State() State {
	st := s.state
	st.Steps = append([]StepState(nil), s.state.Steps...)
	return st
}

// Run runs the steps. It returns nil when every action succeeded,
// *AbortedError when the saga compensated, and *CompensationError when a
// compensation failed as well.
func (s *Saga) Run(ctx workflow.Context, steps ...Step) error {
	s.state.Steps = make([]StepState, len(steps))
	for i, st := range steps {
		s.state.Steps[i] = StepState{Name: st.Name, Status: StepPending}
	}
	runCtx, cancelRun := workflow.WithCancel(ctx)
	defer cancelRun()
	timedOut := false
	if s.opts.Timeout > 0 {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		defer cancelTimer()
		timer := workflow.NewTimer(timerCtx, s.opts.Timeout)
		workflow.Go(timerCtx, func(gctx workflow.Context) {
			if timer.Get(gctx, nil) == nil {
				timedOut = true
				cancelRun()
			}
		})
	}

	var registered []int // steps whose compensation may have to run
	for i, st := range steps {
		if st.Compensate != nil {
			registered = append(registered, i)
		}
		s.begin(ctx, i)
		err := st.Action(runCtx)
		if err == nil && runCtx.Err() == nil {
			s.end(ctx, i, StepDone, nil)
			continue
		}
		switch {
		case timedOut:
			err = fmt.Errorf("%w (%s)", ErrTimeout, s.opts.Timeout)
		case ctx.Err() != nil:
			err = fmt.Errorf("saga cancelled: %w", ctx.Err())
		}
		s.end(ctx, i, StepFailed, err)
		return s.compensate(ctx, steps, registered, Failure{Step: st.Name, Cause: err})
	}
	s.state.Status = StatusCompleted
	s.state.Step = ""
	return nil
}

func (s *Saga) compensate(ctx workflow.Context, steps []Step, registered []int, f Failure) error {
	s.state.Status = StatusCompensating
	s.state.Reason = Reason(f.Cause)
	logger := s.opts.Logger
	if logger == nil {
		logger = workflow.GetLogger(ctx)
	}
	logger.Warn("saga compensating", "step", f.Step, "reason", s.state.Reason)

	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: s.opts.CompensationTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})

	run := func(ctx workflow.Context, i int) error {
		st := steps[i]
		s.state.Steps[i].Status = StepCompensating
		s.state.Step = st.Name
		err := st.Compensate(ctx, f)
		if err != nil {
			s.state.Steps[i].Status = StepCompFailed
			s.state.Steps[i].Error = err.Error()
			return &CompensationError{Failure: f, Step: st.Name, RetryState: retryState(err), Err: err}
		}
		s.state.Steps[i].Status = StepCompensated
		return nil
	}

	var errs []error
	if s.opts.Parallel {
		wg := workflow.NewWaitGroup(dctx)
		results := make([]error, len(registered))
		for k, i := range registered {
			wg.Add(1)
			workflow.Go(dctx, func(gctx workflow.Context) {
				defer wg.Done()
				results[k] = run(gctx, i)
			})
		}
		wg.Wait(dctx)
		errs = results
	} else {
		for k := len(registered) - 1; k >= 0; k-- {
			err := run(dctx, registered[k])
			errs = append(errs, err)
			if err != nil && !s.opts.ContinueWithError {
				break
			}
		}
	}
	s.state.Step = ""
	for _, err := range errs {
		if err != nil {
			s.state.Status = StatusCompensationFailed
			return err
		}
	}
	s.state.Status = StatusCompensated
	return &AbortedError{Failure: f}
}

func (s *Saga) begin(ctx workflow.Context, i int) {
	s.state.Step = s.state.Steps[i].Name
	s.state.Steps[i].Status = StepRunning
	s.state.Steps[i].StartedAt = workflow.Now(ctx)
}

func (s *Saga) end(ctx workflow.Context, i int, status string, err error) {
	s.state.Steps[i].Status = status
	s.state.Steps[i].EndedAt = workflow.Now(ctx)
	if err != nil {
		s.state.Steps[i].Error = err.Error()
	}
}

// Reason turns a step's error into a short human reason: the application
// error's type and message when there is one ("OutOfStockError: ...").
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() != "" && !strings.HasPrefix(app.Message(), app.Type()) {
			return app.Type() + ": " + app.Message()
		}
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timeout: " + timeout.Error()
	}
	return err.Error()
}

// retryState says why Temporal stopped retrying the failed activity
// (for example RETRY_STATE_TIMEOUT or RETRY_STATE_NON_RETRYABLE_FAILURE).
func retryState(err error) string {
	var act *temporal.ActivityError
	if errors.As(err, &act) {
		return act.RetryState().String()
	}
	return ""
}

// Activity is an action that runs the named activity with args and waits
// for it, with the activity options of ctx.
func Activity(name string, args ...any) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(ctx, name, args...).Get(ctx, nil)
	}
}

// Undo is a compensation that runs the named activity with args.
func Undo(name string, args ...any) func(workflow.Context, Failure) error {
	return func(ctx workflow.Context, _ Failure) error {
		return workflow.ExecuteActivity(ctx, name, args...).Get(ctx, nil)
	}
}
