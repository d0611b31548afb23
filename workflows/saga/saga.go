// Package saga is fedsaga's saga engine for Temporal workflows.
//
// A saga is an ordered list of steps. Each step has a forward action and,
// when it can be undone, a compensation, each with its own activity options.
// The engine runs the actions in order. It compensates when an action fails
// for good (a non-retryable error, or its retries are exhausted), when the
// saga's timeout passes, when the workflow is cancelled, and when an
// operator aborts the saga. It then runs the compensations of every step that
// may have run, in reverse order (or all at once with Options.Parallel), in a
// disconnected context so that a cancelled workflow still compensates, each
// retried for up to Options.CompensationTimeout.
//
// A step's compensation is registered before its action runs: an action can
// commit and still report failure (a timeout, a lost response), so the
// compensation of the failed step runs too. Compensations must therefore be
// idempotent and must tolerate an action that never ran; fedsaga's
// activities do both through the barrier table.
//
// A compensation that still fails never vanishes: the saga enters
// compensation_failed, keeps running, and waits for an operator, who sends
// the Update "retry-compensation" (run the failed compensations again) or
// "resolve" with a reason (the operator fixed it by hand). The Update
// "compensate" with a reason aborts a running saga. Updates that do not fit
// the saga's state are rejected by their validators and change nothing. The
// query "state" returns the saga's State; the search attributes SagaStatus
// and SagaStep follow it, for the Web UI and visibility queries.
//
// Writing a saga takes a few lines:
//
//	func Transfer(ctx workflow.Context, in TransferInput) error {
//		s, err := saga.New(ctx, saga.Options{Timeout: time.Minute})
//		if err != nil {
//			return err
//		}
//		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
//		return s.Run(ctx,
//			saga.Step{
//				Name:       "debit",
//				Action:     saga.Activity("Debit", in),
//				Compensate: saga.Undo("Credit", in),
//			},
//			saga.Step{
//				Name:       "credit",
//				Action:     saga.Activity("Credit", in.To),
//				Compensate: saga.Undo("Debit", in.To),
//			},
//		)
//	}
//
// Run returns nil when every action succeeded and *AbortedError when the saga
// compensated (after an operator's help, if that was needed).
package saga

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Statuses of a saga, as the state query and the SagaStatus search
// attribute report them.
const (
	StatusRunning            = "running"
	StatusCompensating       = "compensating"
	StatusCompensationFailed = "compensation_failed"
	StatusCompleted          = "completed"
	StatusCompensated        = "compensated"
)

// Statuses of a step.
const (
	StepPending            = "pending"
	StepRunning            = "running"
	StepDone               = "done"
	StepFailed             = "failed"
	StepCompensating       = "compensating"
	StepCompensated        = "compensated"
	StepCompensationFailed = "compensation_failed"
	StepResolved           = "resolved" // compensation failed, fixed by an operator
)

// Query and Update names.
const (
	QueryState              = "state"
	UpdateCompensate        = "compensate"
	UpdateRetryCompensation = "retry-compensation"
	UpdateResolve           = "resolve"
)

// Search attributes the engine keeps current (Keyword). The worker registers
// them in the namespace at start-up.
var (
	SagaStatus = temporal.NewSearchAttributeKeyKeyword("SagaStatus")
	SagaStep   = temporal.NewSearchAttributeKeyKeyword("SagaStep")
)

var (
	// ErrTimeout is the cause of a saga that ran out of Options.Timeout.
	ErrTimeout = errors.New("saga timeout passed")
	// ErrAborted is the cause of a saga an operator aborted.
	ErrAborted = errors.New("aborted by operator")
	// ErrCancelled is the cause of a saga whose workflow was cancelled.
	ErrCancelled = errors.New("workflow cancelled")
)

// Step is one step of a saga.
type Step struct {
	// Name identifies the step in the state, the logs and the errors.
	Name string
	// Action is the forward action.
	Action func(ctx workflow.Context) error
	// Compensate undoes Action; nil when there is nothing to undo. It is
	// called with the failure that made the saga compensate.
	Compensate func(ctx workflow.Context, f Failure) error
	// Options, when set, are the activity options of the action; otherwise
	// those of the context given to Run.
	Options *workflow.ActivityOptions
	// CompensationOptions, when set, are the activity options of the
	// compensation; otherwise the engine's (see Options.CompensationTimeout).
	CompensationOptions *workflow.ActivityOptions
}

// Failure is why a saga compensates.
type Failure struct {
	Step  string // the step whose action failed, or that ran at timeout, cancellation or abort
	Cause error
}

// Options tune a saga. The zero value runs without timeout, compensates
// sequentially and waits for an operator at the first compensation that
// fails.
type Options struct {
	// Timeout bounds the forward steps in all: every activity a step starts
	// through its context (or Execute) gets a ScheduleToClose that ends at
	// the deadline, and a step that would begin later fails; the saga then
	// compensates. Waits in workflow code (sleeps, awaits, child workflows)
	// are not cut; the next step then fails at once. 0: no timeout.
	Timeout time.Duration
	// CompensationTimeout is how long each compensation activity is retried
	// (its ScheduleToClose). Default 10 minutes.
	CompensationTimeout time.Duration
	// Parallel runs the compensations at once instead of in reverse order.
	Parallel bool
	// ContinueWithError runs the remaining compensations when one fails
	// (sequential mode) before waiting for an operator.
	ContinueWithError bool
	// LocalActions runs the actions started with Execute (and Activity) as
	// local activities: less latency, fewer history events. Compensations
	// always run as regular activities.
	LocalActions bool
	// Logger logs the saga's progress; default workflow.GetLogger. Give it
	// the saga's business keys (log.With(logger, "order_id", id)).
	Logger log.Logger
	// SearchAttributes are upserted with the saga's first status (the
	// saga's business keys, such as OrderId), in the same command.
	SearchAttributes []temporal.SearchAttributeUpdate
	// StartedRunning says the workflow was started with SagaStatus
	// "running" (and its business keys) already set, so the first upsert
	// is not needed: one visibility write less per saga.
	StartedRunning bool
}

// AbortedError is returned by Run when the saga compensated.
type AbortedError struct {
	Failure
	// Resolved lists the steps whose compensation an operator resolved by
	// hand instead of the engine running it to success.
	Resolved []string
}

func (e *AbortedError) Error() string {
	return fmt.Sprintf("saga compensated after step %s failed: %v", e.Step, e.Cause)
}

func (e *AbortedError) Unwrap() error { return e.Cause }

// CompensationError (SagaCompensationError) is a compensation that failed
// after its retries. It names the step, the attempts and the cause.
type CompensationError struct {
	Step     string // the step whose compensation failed
	Attempts int32  // attempts of the failed compensation, across operator retries
	Err      error
}

func (e *CompensationError) Error() string {
	return fmt.Sprintf("SagaCompensationError: compensation of step %s failed after %d attempts: %s; "+
		"the saga waits: fix the cause, then `fedsaga saga retry-compensation`, or `fedsaga saga resolve --reason` when fixed by hand",
		e.Step, e.Attempts, Reason(e.Err))
}

func (e *CompensationError) Unwrap() error { return e.Err }

// StepState is one step as the state query reports it.
type StepState struct {
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Attempts  int32     `json:"attempts,omitempty"`
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`

	CompensationAttempts int32     `json:"compensation_attempts,omitempty"`
	CompensationError    string    `json:"compensation_error,omitempty"`
	CompensatedAt        time.Time `json:"compensated_at,omitzero"`
	Resolution           string    `json:"resolution,omitempty"` // the operator's reason
}

// State is a saga's progress.
type State struct {
	Status     string      `json:"status"`
	Step       string      `json:"step,omitempty"`        // the step in progress
	Reason     string      `json:"reason,omitempty"`      // why the saga compensates
	FailedStep string      `json:"failed_step,omitempty"` // the step that made it compensate
	Error      string      `json:"error,omitempty"`       // SagaCompensationError while compensation_failed
	Steps      []StepState `json:"steps"`
	UpdatedAt  time.Time   `json:"updated_at,omitzero"`
}

// operatorAction is an operator's answer to compensation_failed.
type operatorAction struct {
	retry  bool
	reason string // resolve's reason
}

// Saga runs one list of steps.
type Saga struct {
	opts   Options
	logger log.Logger
	state  State
	steps  []Step
	index  map[string]int

	forward   bool // the forward actions are running
	cancelRun workflow.CancelFunc
	abort     string // the operator's abort reason
	op        *operatorAction

	published [2]string // SagaStatus and SagaStep last upserted
}

// New creates a saga and registers its query ("state") and Updates
// ("compensate", "retry-compensation", "resolve") on the workflow.
func New(ctx workflow.Context, opts Options) (*Saga, error) {
	if opts.CompensationTimeout <= 0 {
		opts.CompensationTimeout = 10 * time.Minute
	}
	s := &Saga{opts: opts, logger: opts.Logger, state: State{Status: StatusRunning}, index: map[string]int{}}
	if opts.StartedRunning {
		s.published[0] = StatusRunning
	}
	if s.logger == nil {
		s.logger = workflow.GetLogger(ctx)
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return s.State(), nil }); err != nil {
		return nil, err
	}
	updates := []struct {
		name     string
		handler  any
		validate any
	}{
		{UpdateCompensate, s.onAbort, s.validateAbort},
		{UpdateRetryCompensation, s.onRetry, s.validateRetry},
		{UpdateResolve, s.onResolve, s.validateResolve},
	}
	for _, u := range updates {
		err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validate})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// State returns a copy of the saga's progress.
func (s *Saga) State() State {
	st := s.state
	st.Steps = slices.Clone(s.state.Steps)
	return st
}

// Run runs the steps. It returns nil when every action succeeded, and
// *AbortedError when the saga compensated. While a compensation has failed,
// Run waits for an operator.
func (s *Saga) Run(ctx workflow.Context, steps ...Step) error {
	s.steps = steps
	for _, st := range steps {
		if _, dup := s.index[st.Name]; dup || st.Name == "" {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("saga: step name %q is empty or used twice", st.Name), "InvalidSaga", nil)
		}
		s.index[st.Name] = len(s.state.Steps)
		s.state.Steps = append(s.state.Steps, StepState{Name: st.Name, Status: StepPending})
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
		// a null compensation: harmless through the barrier, and it lets the
		// first step's undo record the outcome.)
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
			s.end(ctx, st.Name, StepDone, nil)
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
		s.end(ctx, st.Name, StepFailed, err)
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

// Finally runs a step after the saga's outcome is decided, such as
// publishing it: recorded in the state like the others, never compensated,
// and run even when the workflow was cancelled.
func (s *Saga) Finally(ctx workflow.Context, name string, fn func(ctx workflow.Context) error) error {
	if _, dup := s.index[name]; dup {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("saga: step name %q used twice", name), "InvalidSaga", nil)
	}
	s.index[name] = len(s.state.Steps)
	s.state.Steps = append(s.state.Steps, StepState{Name: name, Status: StepPending})
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	s.begin(dctx, name)
	err := fn(dctx)
	status := StepDone
	if err != nil {
		status = StepFailed
	}
	s.end(dctx, name, status, err)
	s.state.Step = ""
	s.details(dctx, "finished: "+s.state.Status)
	return err
}

func (s *Saga) compensate(ctx workflow.Context, registered []string, f Failure) error {
	s.state.Reason, s.state.FailedStep = Reason(f.Cause), f.Step
	s.setStatus(ctx, StatusCompensating, fmt.Sprintf("compensating: step %s failed: %s", f.Step, s.state.Reason))
	s.logger.Warn("saga compensating", "step", f.Step, "reason", s.state.Reason)

	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithValue(dctx, localKey{}, false)
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: s.opts.CompensationTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})

	pending := slices.Clone(registered)
	slices.Reverse(pending)
	aborted := &AbortedError{Failure: f}
	for len(pending) > 0 {
		failed, notRun := s.runCompensations(dctx, pending, f)
		if len(failed) == 0 {
			break
		}
		first := s.state.Steps[s.index[failed[0]]]
		cerr := &CompensationError{Step: first.Name, Attempts: first.CompensationAttempts, Err: errors.New(first.CompensationError)}
		s.state.Error, s.state.Step = cerr.Error(), first.Name
		s.setStatus(dctx, StatusCompensationFailed, "compensation_failed: "+cerr.Error())
		s.logger.Error("saga compensation failed; waiting for an operator", "step", first.Name, "error", cerr.Error())

		if err := workflow.Await(dctx, func() bool { return s.op != nil }); err != nil {
			return err
		}
		op := *s.op
		s.op, s.state.Error = nil, ""
		if op.retry {
			s.logger.Info("operator retries the compensation", "steps", failed)
			pending = append(failed, notRun...)
		} else {
			s.logger.Info("operator resolved the compensation", "steps", failed, "reason", op.reason)
			for _, name := range failed {
				st := &s.state.Steps[s.index[name]]
				st.Status, st.Resolution = StepResolved, op.reason
				aborted.Resolved = append(aborted.Resolved, name)
			}
			pending = notRun
		}
		s.setStatus(dctx, StatusCompensating, "compensating after operator action")
	}
	s.state.Step = f.Step // SagaStep: the step that failed
	s.setStatus(dctx, StatusCompensated, "compensated: "+s.state.Reason)
	s.state.Step = ""
	return aborted
}

// runCompensations runs the named compensations: all at once, or in the
// given order stopping at the first failure unless ContinueWithError. It
// returns the steps whose compensation failed and, when it stopped early,
// those it did not run.
func (s *Saga) runCompensations(ctx workflow.Context, names []string, f Failure) (failed, notRun []string) {
	run := func(ctx workflow.Context, name string) bool {
		i := s.index[name]
		st := s.steps[i]
		if st.CompensationOptions != nil {
			ctx = workflow.WithActivityOptions(ctx, *st.CompensationOptions)
		}
		ss := &s.state.Steps[i]
		ss.Status, s.state.Step = StepCompensating, name
		s.publish(ctx)
		err := st.Compensate(ctx, f)
		ss.CompensationAttempts += max(Attempts(err), 1) // at least the one that ran
		if err != nil {
			ss.Status, ss.CompensationError = StepCompensationFailed, Reason(err)
			return false
		}
		ss.Status, ss.CompensationError, ss.CompensatedAt = StepCompensated, "", workflow.Now(ctx)
		return true
	}
	if s.opts.Parallel {
		ok := make([]bool, len(names))
		wg := workflow.NewWaitGroup(ctx)
		for k, name := range names {
			wg.Add(1)
			workflow.Go(ctx, func(gctx workflow.Context) {
				defer wg.Done()
				ok[k] = run(gctx, name)
			})
		}
		wg.Wait(ctx)
		for k, name := range names {
			if !ok[k] {
				failed = append(failed, name)
			}
		}
		return failed, nil
	}
	for k, name := range names {
		if run(ctx, name) {
			continue
		}
		failed = append(failed, name)
		if !s.opts.ContinueWithError {
			return failed, names[k+1:]
		}
	}
	return failed, nil
}

func (s *Saga) validateAbort(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("a reason is required to abort a saga")
	}
	if !s.forward || s.abort != "" {
		return fmt.Errorf("saga is %s: only a running saga can be aborted", s.state.Status)
	}
	return nil
}

func (s *Saga) onAbort(ctx workflow.Context, reason string) error {
	s.abort = reason
	s.logger.Warn("operator aborts the saga", "step", s.state.Step, "reason", reason)
	s.cancelRun()
	return nil
}

func (s *Saga) validateRetry() error {
	if s.state.Status != StatusCompensationFailed || s.op != nil {
		return fmt.Errorf("saga is %s: retry-compensation applies to a saga in %s", s.state.Status, StatusCompensationFailed)
	}
	return nil
}

func (s *Saga) onRetry(ctx workflow.Context) error {
	s.op = &operatorAction{retry: true}
	return nil
}

func (s *Saga) validateResolve(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("a reason is required to resolve a compensation by hand")
	}
	if s.state.Status != StatusCompensationFailed || s.op != nil {
		return fmt.Errorf("saga is %s: resolve applies to a saga in %s", s.state.Status, StatusCompensationFailed)
	}
	return nil
}

func (s *Saga) onResolve(ctx workflow.Context, reason string) error {
	s.op = &operatorAction{reason: reason}
	return nil
}

func (s *Saga) begin(ctx workflow.Context, name string) {
	ss := &s.state.Steps[s.index[name]]
	ss.Status, ss.StartedAt = StepRunning, workflow.Now(ctx)
	s.state.Step = name
	s.state.UpdatedAt = ss.StartedAt
	s.publish(ctx)
	s.details(ctx, "step "+name+" in progress")
}

func (s *Saga) end(ctx workflow.Context, name, status string, err error) {
	ss := &s.state.Steps[s.index[name]]
	ss.Status, ss.EndedAt = status, workflow.Now(ctx)
	ss.Attempts = max(Attempts(err), 1) // exact for failures; at least 1 otherwise
	if err != nil {
		ss.Error = Reason(err)
	}
	s.state.UpdatedAt = ss.EndedAt
}

func (s *Saga) setStatus(ctx workflow.Context, status, details string) {
	s.state.Status = status
	s.state.UpdatedAt = workflow.Now(ctx)
	s.publish(ctx)
	if details != "" {
		s.details(ctx, details)
	}
}

// publish keeps the search attribute SagaStatus current, with SagaStep the
// step at that moment. It upserts only when the status changes: every upsert
// costs the Temporal server a visibility write, and a happy saga then needs
// two (running, completed). The step in progress is in the current details
// and the state query.
func (s *Saga) publish(ctx workflow.Context) {
	if s.state.Status == s.published[0] {
		return
	}
	updates := []temporal.SearchAttributeUpdate{SagaStatus.ValueSet(s.state.Status)}
	if s.state.Step != "" && s.state.Step != s.published[1] {
		updates = append(updates, SagaStep.ValueSet(s.state.Step))
		s.published[1] = s.state.Step
	}
	if s.published[0] == "" {
		updates = append(updates, s.opts.SearchAttributes...)
	}
	s.published[0] = s.state.Status
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		s.logger.Warn("search attributes not updated", "error", err)
	}
}

func (s *Saga) details(ctx workflow.Context, text string) {
	workflow.SetCurrentDetails(ctx, text)
}

// localKey marks a context whose Execute calls run as local activities.
type localKey struct{}

// deadlineKey holds the saga's deadline in a step's context.
type deadlineKey struct{}

// Execute runs the named activity with the activity options of ctx: as a
// local activity inside Run's forward actions when Options.LocalActions is
// set, as a regular activity otherwise.
//
// Inside a saga with a Timeout, the activity's ScheduleToClose ends at the
// saga's deadline, counted when it is scheduled; when that cut ends its
// retries, the error wraps ErrTimeout.
func Execute(ctx workflow.Context, name string, args ...any) workflow.Future {
	deadline, ok := ctx.Value(deadlineKey{}).(time.Time)
	if !ok {
		return execute(ctx, name, args...)
	}
	left := deadline.Sub(workflow.Now(ctx))
	capped := workflow.GetActivityOptions(ctx).ScheduleToCloseTimeout >= left
	f := execute(untilDeadline(ctx, left), name, args...)
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

func execute(ctx workflow.Context, name string, args ...any) workflow.Future {
	if local, _ := ctx.Value(localKey{}).(bool); local {
		ao := workflow.GetActivityOptions(ctx)
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: ao.ScheduleToCloseTimeout,
			StartToCloseTimeout:    ao.StartToCloseTimeout,
			RetryPolicy:            ao.RetryPolicy,
			Summary:                ao.Summary,
		})
		return workflow.ExecuteLocalActivity(lctx, name, args...)
	}
	return workflow.ExecuteActivity(ctx, name, args...)
}

// Activity is an action that runs the named activity with args and waits
// for it (see Execute).
func Activity(name string, args ...any) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		return Execute(ctx, name, args...).Get(ctx, nil)
	}
}

// Undo is a compensation that runs the named activity with args.
func Undo(name string, args ...any) func(workflow.Context, Failure) error {
	return func(ctx workflow.Context, _ Failure) error {
		return Execute(ctx, name, args...).Get(ctx, nil)
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
		if app.Type() != "" && !strings.HasPrefix(app.Message(), app.Type()+":") {
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
