// Package workflows holds fedsaga's sagas as Temporal workflows. The order
// saga places an order across the orders, inventory and payments databases:
//
//	validate → create order → reserve inventory → charge payment → confirm order → publish event
//
// Workflow code is deterministic: it touches no database, NATS, clock or
// randomness, and imports only the activities' names and types (package
// spec) and the saga engine (package saga).
package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// PlaceOrderName is the workflow type of the order saga.
const PlaceOrderName = "PlaceOrder"

// QueryState is the query that returns the saga's State (saga.State).
const QueryState = saga.QueryState

// StartSearchAttributes are the search attributes an order saga is started
// with: its business keys and SagaStatus "running".
func StartSearchAttributes(in PlaceOrderInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(append(in.keyAttributes(), saga.SagaStatus.ValueSet(saga.StatusRunning))...)
}

// keyAttributes are the saga's business keys as search attributes:
// OrderId, and CustomerId as CustomerAttribute says.
func (in PlaceOrderInput) keyAttributes() []temporal.SearchAttributeUpdate {
	keys := []temporal.SearchAttributeUpdate{OrderIDKey.ValueSet(in.OrderID)}
	switch {
	case in.CustomerAttribute == nil:
		keys = append(keys, CustomerIDKey.ValueSet(in.CustomerID))
	case *in.CustomerAttribute != "":
		keys = append(keys, CustomerIDKey.ValueSet(*in.CustomerAttribute))
	}
	return keys
}

// OrderWorkflowID is the workflow id of an order's saga. One order id runs
// one saga: starting it again returns the existing run.
func OrderWorkflowID(orderID string) string { return "order-" + orderID }

// Outcome statuses.
const (
	Confirmed = spec.StatusConfirmed
	Cancelled = spec.StatusCancelled
)

// PlaceOrderInput is what a service asks for.
type PlaceOrderInput struct {
	OrderID    string      `json:"order_id"`
	CustomerID string      `json:"customer_id"`
	Items      []spec.Item `json:"items"`
	// CustomerAttribute is the value of the CustomerId search attribute,
	// which Temporal stores unencrypted: nil is the customer id itself, ""
	// leaves the attribute out, anything else (a keyed hash of the
	// customer id) stands in for it. The starter sets it.
	CustomerAttribute *string `json:"customer_attribute,omitempty"`
	// Settings, when set, are the saga's settings: the starter passes the
	// workers' (starter.Settings), and the saga records no marker for them.
	// Without, the saga records the settings of the worker that runs it
	// first in a SideEffect marker, as sagas did before.
	Settings *Settings `json:"settings,omitempty"`
}

// Outcome is the result of an order saga.
type Outcome struct {
	OrderID    string `json:"order_id"`
	Status     string `json:"status"` // confirmed or cancelled
	Reason     string `json:"reason"` // why it was cancelled; empty when confirmed
	TotalCents int64  `json:"total_cents"`
	EventID    string `json:"event_id,omitempty"`
	// EventPublished is false when NATS could not take the event within the
	// publish step's retries; the event stays in the outbox.
	EventPublished bool `json:"event_published"`
	// Resolved names the steps whose compensation an operator resolved by
	// hand.
	Resolved []string `json:"resolved,omitempty"`
}

// Validate checks the input against the order's limits (package spec:
// ids, item count, quantity per item and per SKU). It reports every
// problem at once, each a *FieldError naming its field (errors.Join).
func (in *PlaceOrderInput) Validate() error {
	var errs []error
	check := func(field, value string, err error) {
		if err != nil {
			errs = append(errs, &FieldError{Field: field, Value: value, Problem: err.Error(), Err: err})
		}
	}
	check("order_id", quote(in.OrderID), spec.CheckOrderID(in.OrderID))
	check("customer_id", quote(in.CustomerID), spec.CheckCustomerID(in.CustomerID))
	check("items", strconv.Itoa(len(in.Items)), spec.CheckItemCount(len(in.Items)))
	perSKU := map[string]int{}
	var skus []string
	for i, it := range in.Items {
		check(fmt.Sprintf("items[%d].sku", i), quote(it.SKU), spec.CheckSKU(it.SKU))
		qerr := spec.CheckQuantity(it.Quantity)
		check(fmt.Sprintf("items[%d].quantity", i), strconv.Itoa(it.Quantity), qerr)
		if qerr != nil {
			continue
		}
		if _, ok := perSKU[it.SKU]; !ok {
			skus = append(skus, it.SKU)
		}
		perSKU[it.SKU] += it.Quantity // at most MaxItems × MaxQuantity: no overflow
	}
	for _, sku := range skus {
		if n := perSKU[sku]; spec.CheckQuantity(n) != nil {
			check("items", "SKU "+quote(sku)+" adds up to "+strconv.Itoa(n), spec.ErrQuantity)
		}
	}
	return errors.Join(errs...)
}

// inputLimitsChange is the change id of the input limits (package spec)
// in the order saga's history.
const inputLimitsChange = "input-limits"

// localUndoChange is the change id of local first undos in local mode
// (see orderRun.undoing); its marker is written when a saga in local mode
// with sequential compensations starts compensating.
const localUndoChange = "local-undo"

// validBefore is the input check of the sagas started before the limits
// of package spec: what the order saga accepted then.
func (in *PlaceOrderInput) validBefore() error {
	ok := spec.CheckOrderID(in.OrderID) == nil && in.CustomerID != "" && len(in.Items) > 0
	for _, it := range in.Items {
		ok = ok && it.SKU != "" && it.Quantity > 0
	}
	if !ok {
		return errors.New("invalid input")
	}
	return nil
}

// quote prints a value for a FieldError: "" for an empty one (a missing
// value).
func quote(s string) string {
	if s == "" {
		return ""
	}
	return spec.Quote(s)
}

// FieldError is one invalid field of an input.
type FieldError struct {
	Field   string // JSON name and path, e.g. "customer_id" or "items[1].quantity"
	Value   string // the value given, as printed; "" for a missing one
	Problem string // what is wrong, and what is allowed
	// Err is the limit broken (spec.ErrQuantity, spec.ErrRequired, ...),
	// for errors.Is.
	Err error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Problem
	}
	return e.Field + " " + e.Value + ": " + e.Problem
}

// Unwrap returns the limit broken.
func (e *FieldError) Unwrap() error { return e.Err }

// Settings are the saga settings of the workers (worker.Settings makes
// them from the configuration). They travel in the saga's input
// (PlaceOrderInput.Settings) or, when the starter did not give them, in a
// SideEffect marker the saga records when it starts: either way a worker
// with other settings replays it unchanged. The JSON names are the field
// names, as in the markers recorded before the tags.
type Settings struct {
	Timeout             time.Duration `json:"Timeout,omitempty"`
	CompensationTimeout time.Duration `json:"CompensationTimeout,omitempty"`
	// LocalActivities runs the forward steps as local activities.
	LocalActivities      bool `json:"LocalActivities,omitempty"`
	ParallelCompensation bool `json:"ParallelCompensation,omitempty"`
	ContinueWithError    bool `json:"ContinueWithError,omitempty"`
	// PublishTimeout is how long the publish step retries before the event
	// is left to the outbox relay; 0 means 2 minutes.
	PublishTimeout time.Duration `json:"PublishTimeout,omitempty"`
	// AllLocal, with LocalActivities, runs the compensations, VoidConfirm
	// and the publish as local activities too (saga.mode = "local" sets
	// both; see orderRun.undoing for sagas recorded before). When the
	// publish gives up, the outbox relay publishes the event, as in
	// regular mode. Sagas recorded before it existed have it false and
	// replay as they ran.
	AllLocal bool `json:"AllLocal,omitempty"`
}

// Search attributes of the order saga, besides the engine's SagaStatus and
// SagaStep.
var (
	OrderIDKey    = temporal.NewSearchAttributeKeyKeyword("OrderId")
	CustomerIDKey = temporal.NewSearchAttributeKeyKeyword("CustomerId")
)

// Orders runs order sagas with the worker's settings.
type Orders struct {
	Settings Settings
}

// PlaceOrder is the order saga workflow.
func (o *Orders) PlaceOrder(ctx workflow.Context, in PlaceOrderInput) (*Outcome, error) {
	settings, err := o.settings(ctx, in)
	if err != nil {
		return nil, err
	}
	run := &orderRun{in: in, settings: settings}
	if err := run.setup(ctx); err != nil {
		return nil, err
	}
	return run.run(ctx)
}

// settings are the saga's settings: those of its input, which cost no
// history event, or else the worker's, recorded in a SideEffect marker.
// Whether the input has them is part of the history, so a saga replays
// down the path it ran.
func (o *Orders) settings(ctx workflow.Context, in PlaceOrderInput) (Settings, error) {
	if in.Settings != nil {
		return *in.Settings, nil
	}
	var settings Settings
	err := workflow.SideEffect(ctx, func(workflow.Context) any { return o.Settings }).Get(&settings)
	return settings, err
}

type orderRun struct {
	in       PlaceOrderInput
	settings Settings
	saga     *saga.Saga
	logger   log.Logger
	order    spec.Order // filled by the validate step
	// recorded is the first undo when it runs as a regular activity (see
	// undoing): the others wait for it; nil until such an undo runs.
	recorded workflow.Future
}

func (r *orderRun) setup(ctx workflow.Context) error {
	if err := r.in.Validate(); err != nil && (r.in.validBefore() != nil ||
		// A saga started before the limits of package spec replays with
		// the checks it started with: it must not fail where its history
		// says it ran. The version marker is written only for an input
		// that the limits refuse and the earlier checks accept.
		workflow.GetVersion(ctx, inputLimitsChange, workflow.DefaultVersion, 1) != workflow.DefaultVersion) {
		return temporal.NewNonRetryableApplicationError(err.Error(), spec.ErrInvalidInput, nil)
	}
	r.logger = log.With(workflow.GetLogger(ctx), "order_id", r.in.OrderID)
	var err error
	r.saga, err = saga.New(ctx, saga.Options{
		Timeout:             r.settings.Timeout,
		CompensationTimeout: r.settings.CompensationTimeout,
		LocalActions:        r.settings.LocalActivities,
		Parallel:            r.settings.ParallelCompensation,
		ContinueWithError:   r.settings.ContinueWithError,
		Logger:              r.logger,
		// The starter sets the business keys and SagaStatus at start (see
		// StartSearchAttributes); otherwise the first upsert carries them.
		SearchAttributes: r.in.keyAttributes(),
	})
	return err
}

// ForwardOptions are the activity options of the order saga's forward
// steps (the benchmark's floor workflow uses them too). They retry
// infrastructure failures a few times; business failures are non-retryable
// and go straight to compensation.
var ForwardOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	// Room for every attempt (10 × 10 s plus backoff); local activities
	// need it stated, or their retries stop at StartToClose.
	ScheduleToCloseTimeout: 3 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Second,
		MaximumAttempts:    10,
	},
}

// publishOptions keep retrying the publish for Settings.PublishTimeout;
// after that the event stays in the outbox for the relay.
func publishOptions(timeout time.Duration) workflow.ActivityOptions {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout:    min(10*time.Second, timeout),
		ScheduleToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
		},
	}
}

func (r *orderRun) run(ctx workflow.Context) (*Outcome, error) {
	ctx = workflow.WithActivityOptions(ctx, ForwardOptions)
	r.order = spec.Order{
		SagaID:     workflow.GetInfo(ctx).WorkflowExecution.ID,
		OrderID:    r.in.OrderID,
		CustomerID: r.in.CustomerID,
	}
	err := r.saga.Run(ctx,
		saga.Step{Name: spec.StepValidate, Action: r.validate},
		saga.Step{
			Name:       spec.StepCreate,
			Action:     r.call(spec.StepCreate, spec.CreateOrder, r.whole),
			Compensate: r.cancelOrder,
		},
		saga.Step{
			Name:       spec.StepReserve,
			Action:     r.call(spec.StepReserve, spec.ReserveInventory, r.stock),
			Compensate: r.undo(spec.ReleaseInventory),
		},
		saga.Step{
			Name:       spec.StepCharge,
			Action:     r.call(spec.StepCharge, spec.ChargePayment, r.payment),
			Compensate: r.undo(spec.RefundPayment),
		},
		saga.Step{
			Name:       spec.StepConfirm,
			Action:     r.confirm,
			Compensate: r.voidConfirm,
		},
	)
	out := &Outcome{OrderID: r.in.OrderID, Status: Confirmed, TotalCents: r.order.TotalCents}
	event := events.TypeConfirmed
	var aborted *saga.AbortedError
	switch {
	case err == nil:
	case errors.As(err, &aborted):
		out.Status, out.Reason, out.Resolved = Cancelled, saga.Reason(aborted.Cause), aborted.Resolved
		event = events.TypeCancelled
		if aborted.Step == spec.StepValidate {
			// Refused before anything was written: no event in the outbox.
			r.logger.Info("order refused", "step", spec.StepValidate, "reason", out.Reason)
			return out, nil
		}
	default:
		return nil, err
	}

	// The outcome is decided and in the outbox; publishing runs even when
	// the workflow was cancelled.
	var pub spec.PublishResult
	err = r.saga.Finally(ctx, spec.StepPublish, func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(withSummary(ctx, spec.StepPublish), publishOptions(r.settings.PublishTimeout))
		in := spec.PublishInput{OrderID: r.order.OrderID, EventType: event}
		return r.finish(ctx, spec.PublishEvent, in).Get(ctx, &pub)
	})
	out.EventID = pub.EventID
	out.EventPublished = err == nil
	if err != nil {
		r.logger.Warn("event not published; it stays in the outbox", "step", spec.StepPublish, "error", err)
		publishGaveUp(ctx, event)
	}
	r.logger.Info("order saga finished", "status", out.Status, "reason", out.Reason)
	return out, nil
}

// validate prices the order from the inventory database and checks the
// customer, before anything is written.
func (r *orderRun) validate(ctx workflow.Context) error {
	var priced spec.ValidateResult
	in := spec.ValidateInput{OrderID: r.in.OrderID, CustomerID: r.in.CustomerID, Items: r.in.Items}
	err := saga.Execute(withSummary(ctx, spec.StepValidate), spec.Validate, in).Get(ctx, &priced)
	if err != nil {
		return err
	}
	r.order.Lines, r.order.TotalCents = priced.Lines, priced.TotalCents
	return nil
}

// call is a forward step running one activity on in, which the validate
// step has priced (r.order, or what the activity needs of it: see ids).
// The input is read when the step runs.
func (r *orderRun) call(step, activity string, in func() spec.Order) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		return forward(ctx, step, activity, in())
	}
}

// forward runs a forward step's activity. A step that reports its
// compensation ran already (spec.StepResult) fails for good: an earlier
// run of this workflow task compensated the saga and was lost before it
// completed (local activities commit before their task does), so the
// saga compensates again, a no-op for what is undone already, for the
// reason the lost run recorded, and never goes on over undone steps.
func forward(ctx workflow.Context, step, activity string, in spec.Order) error {
	var res spec.StepResult
	if err := saga.Execute(withSummary(ctx, step), activity, in).Get(ctx, &res); err != nil {
		return err
	}
	if res.Compensated {
		msg := res.Reason // the reason the saga compensated for then
		if msg == "" {
			msg = "step " + step + " was compensated already by an earlier run of this saga"
		}
		return temporal.NewNonRetryableApplicationError(msg, spec.ErrAlreadyCompensated, nil)
	}
	return nil
}

// The inputs of the steps: what each activity needs of the priced order,
// no more (in regular mode each input is stored in the history).
func (r *orderRun) whole() spec.Order { return r.order }

// ids names the saga and the order: all that the compensations of the
// reserve and charge steps and VoidConfirm need.
func (r *orderRun) ids() spec.Order {
	return spec.Order{SagaID: r.order.SagaID, OrderID: r.order.OrderID}
}

// undoInput is the input of the undos on the saga's ids (the
// compensations of reserve and charge, VoidConfirm): the ids and the
// reason of the failure cause, which the barrier row keeps.
func (r *orderRun) undoInput(cause error) spec.Order {
	in := r.ids()
	in.Reason = saga.Reason(cause)
	return in
}

// stock is the reserve step's input: the products and their quantities.
func (r *orderRun) stock() spec.Order {
	in := r.ids()
	for _, l := range r.order.Lines {
		in.Lines = append(in.Lines, spec.Line{ProductID: l.ProductID, Quantity: l.Quantity})
	}
	return in
}

// payment is the charge step's input: the customer and the total.
func (r *orderRun) payment() spec.Order {
	in := r.ids()
	in.CustomerID, in.TotalCents = r.order.CustomerID, r.order.TotalCents
	return in
}

// finish runs an activity outside the forward steps (a compensation,
// VoidConfirm, the publish): a local activity with Settings.AllLocal in
// local mode, else a regular one.
func (r *orderRun) finish(ctx workflow.Context, activity string, in any) workflow.Future {
	if r.settings.AllLocal && r.settings.LocalActivities {
		return saga.ExecuteLocal(ctx, activity, in)
	}
	return workflow.ExecuteActivity(ctx, activity, in)
}

// undoing runs an activity that blocks forward steps (a compensation,
// VoidConfirm) as finish does, with one exception: in local mode, the
// first of them runs as a regular activity, and the others (local ones)
// wait for it, when a lost workflow task could leave the saga compensated
// in a way a re-run cannot see. A local activity commits before its
// workflow task completes; after a lost task the saga runs its steps
// again, and a forward step that finds its compensation's row fails the
// saga (see forward), which compensates the steps up to it. That covers
// what the lost task undid when its undos commit latest first and stop at
// the first that fails: the steps undone are then the last ones that ran.
// Parallel compensations, or ContinueWithError, can leave a later step
// not undone behind an earlier one that was, so there the first undo is
// regular: scheduling it ends the workflow task with the forward steps'
// outcome in the history before anything is undone. Sagas recorded
// before localUndoChange ran the first undo as a regular activity in
// every case; they replay that way.
func (r *orderRun) undoing(ctx workflow.Context, activity string, in any) workflow.Future {
	if !r.settings.AllLocal || !r.settings.LocalActivities {
		return workflow.ExecuteActivity(ctx, activity, in)
	}
	if r.recorded == nil && (r.settings.ParallelCompensation || r.settings.ContinueWithError ||
		workflow.GetVersion(ctx, localUndoChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion) {
		r.recorded = workflow.ExecuteActivity(ctx, activity, in)
		return r.recorded
	}
	if r.recorded != nil {
		if err := r.recorded.Get(ctx, nil); err != nil && ctx.Err() != nil {
			f, set := workflow.NewFuture(ctx)
			set.SetError(err)
			return f
		}
	}
	return saga.ExecuteLocal(ctx, activity, in)
}

// undo is a compensation running one activity on the saga's ids and the
// reason it compensates.
func (r *orderRun) undo(activity string) func(workflow.Context, saga.Failure) error {
	return func(ctx workflow.Context, f saga.Failure) error {
		return r.undoing(withSummary(ctx, activity), activity, r.undoInput(f.Cause)).Get(ctx, nil)
	}
}

// cancelOrder compensates the create step with the reason of the failure;
// it writes the order.cancelled event, so it takes the whole order.
func (r *orderRun) cancelOrder(ctx workflow.Context, f saga.Failure) error {
	o := r.order
	o.Reason = saga.Reason(f.Cause)
	return r.undoing(withSummary(ctx, spec.CancelOrder), spec.CancelOrder, o).Get(ctx, nil)
}

// confirm runs the pivot (on the whole order: it writes the
// order.confirmed event). When it fails for good, it may still have
// committed (a lost response): VoidConfirm blocks any late attempt and says
// whether it had committed, in which case the saga goes on as confirmed.
func (r *orderRun) confirm(ctx workflow.Context) error {
	err := forward(ctx, spec.StepConfirm, spec.ConfirmOrder, r.order)
	if err == nil || ctx.Err() != nil {
		return err
	}
	// VoidConfirm gets its own options, not the saga's deadline: even after
	// the deadline, it must learn whether the confirm committed.
	vctx := workflow.WithActivityOptions(ctx, ForwardOptions)
	var res spec.VoidConfirmResult
	if verr := r.undoing(withSummary(vctx, spec.VoidConfirm), spec.VoidConfirm, r.undoInput(err)).Get(vctx, &res); verr != nil {
		return errors.Join(err, verr)
	}
	if res.Confirmed {
		r.logger.Warn("confirm reported failure but had committed", "step", spec.StepConfirm, "error", err)
		return nil
	}
	return err
}

// voidConfirm is the confirm step's compensation: it blocks a late confirm.
// When the confirm had committed, the order cannot be compensated any more:
// that is a compensation failure for an operator.
func (r *orderRun) voidConfirm(ctx workflow.Context, f saga.Failure) error {
	var res spec.VoidConfirmResult
	if err := r.undoing(withSummary(ctx, spec.VoidConfirm), spec.VoidConfirm, r.undoInput(f.Cause)).Get(ctx, &res); err != nil {
		return err
	}
	if res.Confirmed {
		return temporal.NewNonRetryableApplicationError(
			"order "+r.order.OrderID+" was confirmed before the saga compensated", spec.ErrConfirmCommitted, nil)
	}
	return nil
}

// withSummary names the activity in the Web UI.
func withSummary(ctx workflow.Context, summary string) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = summary
	return workflow.WithActivityOptions(ctx, opts)
}
