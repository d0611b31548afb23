// Package saga runs sagas in Temporal workflows.
//
// A saga is an ordered list of steps. Each step has a forward action and,
// when it can be undone, a compensation. The engine runs the actions in
// order. It compensates when an action fails for good (a non-retryable
// error, or its retries are exhausted), when the saga's timeout passes, when
// the workflow is cancelled, and when an operator aborts the saga. It then
// runs the compensations of every step that may have run, in reverse order
// (or all at once with Options.Parallel), in a disconnected context so that
// a cancelled workflow still compensates, each retried for up to
// Options.CompensationTimeout.
//
// A step's compensation is registered before its action runs: an action can
// commit and still report failure (a timeout, a lost response), so the
// compensation of the failed step runs too. Compensations must therefore be
// idempotent and must tolerate an action that never ran (a barrier row
// written in the action's transaction is one way to tell).
//
// # Writing a saga
//
// Activity and Undo turn an activity, given as a function or by its
// registered name like workflow.ExecuteActivity, into an action and a
// compensation; any func(workflow.Context) error is an action too. A money
// transfer, with the activities as methods of a struct:
//
//	func Transfer(ctx workflow.Context, t TransferInput) error {
//		var a *Accounts // only its methods' names are used
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
// Run returns nil when every action succeeded and *AbortedError when the saga
// compensated; its Step and Cause say why. A saga runs once: New makes one,
// Run runs it, and Finally, after Run, adds steps that run whatever the
// outcome (publishing it, say). A second Run, a Finally before Run, and a
// step name that is empty or used twice are refused with a non-retryable
// error of type "InvalidSaga".
//
// # The worker
//
// The worker that runs a saga's activities registers the engine's activity
// interceptor, so that failures carry their attempt count into the saga's
// state and its CompensationError:
//
//	w := worker.New(c, "transfers", worker.Options{
//		Interceptors: []interceptor.WorkerInterceptor{saga.NewInterceptor()},
//	})
//	w.RegisterWorkflow(Transfer)
//	w.RegisterActivity(&Accounts{})
//
// Without it a saga runs the same, and reports one attempt per failure.
//
// # Operators and visibility
//
// A compensation that still fails never vanishes: the saga enters
// compensation_failed, keeps running, and waits for an operator, who sends
// the Update UpdateRetryCompensation (run the failed compensations again) or
// UpdateResolve with a reason (the operator fixed it by hand). The Update
// UpdateCompensate with a reason aborts a running saga. Updates that do not
// fit the saga's state are rejected by their validators and change nothing.
// The query QueryState returns the saga's State.
//
// The Keyword search attributes SagaStatus and SagaStep follow the state, for
// the Web UI and visibility queries; register them in the namespace. A
// workflow started with SagaStatus set skips the engine's first upsert;
// Options.SearchAttributes adds the saga's business keys to that upsert.
package saga

import (
	"time"

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
	// nothing to undo. It is called with the failure that made the saga
	// compensate.
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
	// SearchAttributes are upserted with the saga's first status (its
	// business keys, say), in the same command. A workflow started with
	// SagaStatus set has no such upsert: start it with them too.
	SearchAttributes []temporal.SearchAttributeUpdate
}

// Saga runs one list of steps, once.
type Saga struct {
	opts   Options
	logger log.Logger
	state  State
	steps  []Step         // the steps of Run and Finally, as in state.Steps
	index  map[string]int // a step's position in steps and state.Steps
	ran    bool           // Run was called

	forward   bool // the forward actions are running
	cancelRun workflow.CancelFunc
	abort     string // the operator's abort reason
	op        *operatorAction

	published [2]string // SagaStatus and SagaStep last upserted
}

// New creates a saga and registers its query (QueryState) and Updates
// (UpdateCompensate, UpdateRetryCompensation, UpdateResolve) on the
// workflow.
func New(ctx workflow.Context, opts Options) (*Saga, error) {
	if opts.CompensationTimeout <= 0 {
		opts.CompensationTimeout = 10 * time.Minute
	}
	s := &Saga{opts: opts, logger: opts.Logger, state: State{Status: StatusRunning}, index: map[string]int{}}
	if s.logger == nil {
		s.logger = workflow.GetLogger(ctx)
	}
	s.started(ctx)
	if err := s.register(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
