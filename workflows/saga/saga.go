// Package saga runs sagas in Temporal workflows.
//
// A saga is an ordered list of steps, each a forward action and, when it can
// be undone, a compensation. The engine runs the actions in order. When one
// fails for good (a non-retryable error, or its retries exhausted), the
// saga's timeout passes, the workflow is cancelled or an operator aborts the
// saga, it runs the compensations of every step that may have run, in
// reverse order (or at once, with Options.Parallel), in a disconnected
// context: a cancelled workflow still compensates. A compensation is
// registered before its action runs, since an action can commit and still
// report failure, so compensations must be idempotent and tolerate an
// action that never ran (a barrier row written with the action tells).
//
// Activity and Undo make an action and a compensation of an activity, given
// as a function or by its registered name as in workflow.ExecuteActivity;
// any func(workflow.Context) error is an action too. A money transfer:
//
//	func Transfer(ctx workflow.Context, t TransferInput) error {
//		var a *Accounts // the activities are its methods: only their names are used
//		s, err := saga.New(ctx, saga.Options{Timeout: time.Minute})
//		if err != nil {
//			return err
//		}
//		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
//		return s.Run(ctx,
//			saga.Step{Name: "debit", Action: saga.Activity(a.Debit, t), Compensate: saga.Undo(a.UndoDebit, t)},
//			saga.Step{Name: "credit", Action: saga.Activity(a.Credit, t), Compensate: saga.Undo(a.UndoCredit, t)},
//		)
//	}
//
// Its worker registers the package's interceptor, which puts the attempts of
// failed activities into the saga's state (one each without it):
//
//	w := worker.New(c, "transfers", worker.Options{Interceptors: []interceptor.WorkerInterceptor{saga.NewInterceptor()}})
//	w.RegisterWorkflow(Transfer)
//	w.RegisterActivity(&Accounts{})
//
// A saga runs once: Run returns nil when every action succeeded and an
// *AbortedError (step, cause) when the saga compensated; Finally then adds
// steps that run whatever the outcome. A second Run, Finally before Run, or
// a step name empty or used twice returns a non-retryable "InvalidSaga" error.
//
// A compensation that still fails after its retries leaves the saga in
// compensation_failed, running, until an operator sends the Update
// UpdateRetryCompensation or UpdateResolve; UpdateCompensate aborts a
// running saga, and the query QueryState returns its State. The Keyword
// search attributes SagaStatus and SagaStep follow the state: register them
// in the namespace.
package saga

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Step is one step of a saga.
type Step struct {
	// Name identifies the step in the state, the logs and the errors.
	Name string
	// Action is the forward action, such as Activity(fn, args...).
	Action func(ctx workflow.Context) error
	// Compensate undoes Action, such as Undo(fn, args...); nil when there is
	// nothing to undo. f is why the saga compensates.
	Compensate func(ctx workflow.Context, f Failure) error
	// Options and CompensationOptions, when set, are the activity options of
	// the action and of the compensation; otherwise those of the context
	// given to Run and the engine's (see Options.CompensationTimeout).
	Options, CompensationOptions *workflow.ActivityOptions
}

// Failure is why a saga compensates.
type Failure struct {
	Step  string // the step whose action failed, or that ran at timeout, cancellation or abort
	Cause error
}

// Options tune a saga. The zero value runs without timeout, compensates
// sequentially and waits for an operator at the first failed compensation.
type Options struct {
	// Timeout bounds the forward steps in all: every activity a step starts
	// through its context (or Execute) gets a ScheduleToClose that ends at
	// the deadline, and a step that would begin later fails. Waits in
	// workflow code (sleeps, awaits) are not cut. 0: no timeout.
	Timeout time.Duration
	// CompensationTimeout is how long each compensation activity is retried
	// (its ScheduleToClose). Default 10 minutes.
	CompensationTimeout time.Duration
	// Parallel runs the compensations at once instead of in reverse order.
	Parallel bool
	// ContinueWithError runs the remaining compensations when one fails
	// (sequential mode) before waiting for an operator.
	ContinueWithError bool
	// LocalActions runs the activities of Execute (and Activity) in actions
	// as local activities: less latency, fewer history events.
	LocalActions bool
	// Logger logs the saga's progress; default workflow.GetLogger. Give it
	// the saga's business keys (log.With(logger, "order_id", id)).
	Logger log.Logger
	// SearchAttributes (business keys, say) go with the first upsert of
	// SagaStatus; a workflow started with SagaStatus set has none.
	SearchAttributes []temporal.SearchAttributeUpdate
}

// Saga runs one list of steps, once.
type Saga struct {
	opts   Options
	logger log.Logger
	state  State
	steps  []Step         // of Run and Finally, in the order of state.Steps
	index  map[string]int // a step's position in both
	ran    bool

	cancelRun workflow.CancelFunc // cancels the forward actions; nil when they do not run
	abort     string              // the operator's abort reason
	op        *string             // the operator's answer to compensation_failed: "" retry, else resolve's reason

	published [2]string // SagaStatus and SagaStep last upserted
}

// New creates a saga and registers its query and Updates on the workflow.
func New(ctx workflow.Context, opts Options) (*Saga, error) {
	if opts.CompensationTimeout <= 0 {
		opts.CompensationTimeout = 10 * time.Minute
	}
	s := &Saga{opts: opts, logger: cmp.Or(opts.Logger, workflow.GetLogger(ctx)), state: State{Status: StatusRunning}, index: map[string]int{}}
	s.started(ctx)
	if err := s.register(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs the steps, once: nil when every action succeeded, *AbortedError
// when the saga compensated. While a compensation has failed, Run waits for
// an operator.
func (s *Saga) Run(ctx workflow.Context, steps ...Step) error {
	if s.ran {
		return invalid("Run called twice: a saga runs once")
	}
	s.ran = true
	for _, st := range steps {
		if err := s.add(st); err != nil {
			return err
		}
	}
	runCtx, cancelRun := workflow.WithCancel(ctx)
	defer cancelRun()
	s.cancelRun = cancelRun
	// The saga timeout needs no timer: every action's activities get a
	// ScheduleToClose that ends at the deadline, so a step still running fails.
	sc := scope{local: s.opts.LocalActions}
	if s.opts.Timeout > 0 {
		sc.deadline = workflow.Now(ctx).Add(s.opts.Timeout)
	}
	runCtx = workflow.WithValue(runCtx, scopeKey{}, sc)
	timedOut := func() bool { return !sc.deadline.IsZero() && !workflow.Now(ctx).Before(sc.deadline) }

	var registered []string // steps whose compensation may have to run
	for _, st := range steps {
		// Registered before the action runs, even one that will not begin
		// at the deadline: its undo may record the outcome.
		if st.Compensate != nil {
			registered = slices.Insert(registered, 0, st.Name) // latest first
		}
		sctx := runCtx
		if st.Options != nil {
			sctx = workflow.WithActivityOptions(runCtx, *st.Options)
		}
		sctx = untilDeadline(sctx, sc.deadline)
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
		s.cancelRun = nil
		return s.compensate(ctx, registered, Failure{Step: st.Name, Cause: err})
	}
	s.cancelRun = nil
	if len(steps) > 0 {
		s.state.Step = steps[len(steps)-1].Name // SagaStep: the last step
	}
	s.setStatus(ctx, StatusCompleted, "")
	s.finished(ctx, StatusCompleted, nil)
	s.state.Step = ""
	return nil
}

// Finally runs a step after Run, such as publishing the outcome: recorded
// in the state like the others, never compensated, and run even when the
// workflow was cancelled.
func (s *Saga) Finally(ctx workflow.Context, name string, fn func(ctx workflow.Context) error) error {
	if !s.ran {
		return invalid(fmt.Sprintf("Finally(%q) called before Run", name))
	}
	if err := s.add(Step{Name: name}); err != nil {
		return err
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	s.begin(dctx, name)
	err := fn(dctx)
	s.end(dctx, name, err)
	s.state.Step = ""
	workflow.SetCurrentDetails(dctx, "finished: "+s.state.Status)
	return err
}

// add appends a step to the saga, in steps and in the state alike.
func (s *Saga) add(st Step) error {
	if _, dup := s.index[st.Name]; dup || st.Name == "" {
		return invalid(fmt.Sprintf("step name %q is empty or used twice", st.Name))
	}
	s.index[st.Name] = len(s.steps)
	s.steps = append(s.steps, st)
	s.state.Steps = append(s.state.Steps, StepState{Name: st.Name, Status: StepPending})
	return nil
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
	phase := PhaseForward
	if s.steps[s.index[name]].Action == nil { // added by Finally
		phase = PhaseFinally
	}
	stepTook(ctx, name, phase, ss.EndedAt.Sub(ss.StartedAt), err)
}

// untilDeadline caps the ScheduleToClose of the activities started with ctx
// at the time left before the saga's deadline, if there is one.
func untilDeadline(ctx workflow.Context, deadline time.Time) workflow.Context {
	if deadline.IsZero() {
		return ctx
	}
	left := max(deadline.Sub(workflow.Now(ctx)), time.Millisecond)
	opts := workflow.GetActivityOptions(ctx)
	opts.ScheduleToCloseTimeout = min(cmp.Or(opts.ScheduleToCloseTimeout, left), left)
	opts.StartToCloseTimeout = min(opts.StartToCloseTimeout, left)
	return workflow.WithActivityOptions(ctx, opts)
}

// scope is what Execute learns from the context of a saga's action.
type scope struct {
	local    bool
	deadline time.Time // zero: none
}

type scopeKey struct{}

// Execute runs an activity, a function or a registered name as with
// workflow.ExecuteActivity, with the activity options of ctx: in Run's
// actions as a local activity with Options.LocalActions, else a regular
// one. With Options.Timeout its ScheduleToClose ends at the saga's
// deadline; when that cut ends its retries, the error wraps ErrTimeout.
func Execute(ctx workflow.Context, activity any, args ...any) workflow.Future {
	sc, _ := ctx.Value(scopeKey{}).(scope)
	capped := !sc.deadline.IsZero() && workflow.GetActivityOptions(ctx).ScheduleToCloseTimeout >= sc.deadline.Sub(workflow.Now(ctx))
	f := execute(untilDeadline(ctx, sc.deadline), sc.local, activity, args...)
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

func execute(ctx workflow.Context, local bool, activity any, args ...any) workflow.Future {
	if local {
		return ExecuteLocal(ctx, activity, args...)
	}
	return workflow.ExecuteActivity(ctx, activity, args...)
}

// ExecuteLocal runs an activity as a local activity with the activity
// options of ctx (timeouts, retry policy, summary): what Execute does in
// Run's actions with Options.LocalActions, for the activities a workflow
// runs elsewhere, such as in a compensation or a Finally step. Give it a
// ScheduleToCloseTimeout: a local activity's retries stop at its
// StartToClose otherwise.
func ExecuteLocal(ctx workflow.Context, activity any, args ...any) workflow.Future {
	ao := workflow.GetActivityOptions(ctx)
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: ao.ScheduleToCloseTimeout,
		StartToCloseTimeout:    ao.StartToCloseTimeout,
		RetryPolicy:            ao.RetryPolicy,
		Summary:                ao.Summary,
	})
	return workflow.ExecuteLocalActivity(lctx, activity, args...)
}

// Activity is an action that runs the activity with args (see Execute).
func Activity(activity any, args ...any) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		return Execute(ctx, activity, args...).Get(ctx, nil)
	}
}

// Undo is a compensation that runs the activity with args (see Execute).
func Undo(activity any, args ...any) func(workflow.Context, Failure) error {
	return func(ctx workflow.Context, _ Failure) error {
		return Execute(ctx, activity, args...).Get(ctx, nil)
	}
}
