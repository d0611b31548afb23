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
	"regexp"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// PlaceOrderName is the workflow type of the order saga.
const PlaceOrderName = "PlaceOrder"

// QueryState is the query that returns the saga's State.
const QueryState = "state"

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
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks the input's shape; every problem names its field.
func (in *PlaceOrderInput) Validate() error {
	var errs []error
	if !idPattern.MatchString(in.OrderID) {
		errs = append(errs, fmt.Errorf("order_id %q: want 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'", in.OrderID))
	}
	if in.CustomerID == "" {
		errs = append(errs, errors.New("customer_id: required"))
	}
	if len(in.Items) == 0 {
		errs = append(errs, errors.New("items: at least one item is required"))
	}
	for i, it := range in.Items {
		if it.SKU == "" {
			errs = append(errs, fmt.Errorf("items[%d].sku: required", i))
		}
		if it.Quantity <= 0 {
			errs = append(errs, fmt.Errorf("items[%d].quantity %d: want a positive integer", i, it.Quantity))
		}
	}
	return errors.Join(errs...)
}

// Settings are the worker's saga settings. The order saga records them in
// its history when it starts, so a worker with other settings replays it
// unchanged.
type Settings struct {
	Timeout             time.Duration
	CompensationTimeout time.Duration
}

// Orders runs order sagas with the worker's settings.
type Orders struct {
	Settings Settings
}

// PlaceOrder is the order saga workflow.
func (o *Orders) PlaceOrder(ctx workflow.Context, in PlaceOrderInput) (*Outcome, error) {
	var settings Settings
	err := workflow.SideEffect(ctx, func(workflow.Context) any { return o.Settings }).Get(&settings)
	if err != nil {
		return nil, err
	}
	run := &orderRun{in: in, settings: settings}
	if err := run.setup(ctx); err != nil {
		return nil, err
	}
	return run.run(ctx)
}

type orderRun struct {
	in       PlaceOrderInput
	settings Settings
	saga     *saga.Saga
	logger   log.Logger
}

func (r *orderRun) setup(ctx workflow.Context) error {
	if err := r.in.Validate(); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	r.logger = log.With(workflow.GetLogger(ctx), "order_id", r.in.OrderID)
	r.saga = saga.New(saga.Options{
		Timeout:             r.settings.Timeout,
		CompensationTimeout: r.settings.CompensationTimeout,
		Logger:              r.logger,
	})
	return workflow.SetQueryHandler(ctx, QueryState, func() (saga.State, error) {
		return r.saga.State(), nil
	})
}

// forwardOptions retry infrastructure failures a few times; business
// failures are non-retryable and go straight to compensation.
var forwardOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Second,
		MaximumAttempts:    10,
	},
}

// publishOptions keep retrying the publish for two minutes; after that the
// event stays in the outbox for the relay.
var publishOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: 2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
}

func (r *orderRun) run(ctx workflow.Context) (*Outcome, error) {
	ctx = workflow.WithActivityOptions(ctx, forwardOptions)
	out := &Outcome{OrderID: r.in.OrderID}

	var priced spec.ValidateResult
	err := workflow.ExecuteActivity(withStep(ctx, spec.StepValidate), spec.Validate, spec.ValidateInput{
		OrderID: r.in.OrderID, CustomerID: r.in.CustomerID, Items: r.in.Items,
	}).Get(ctx, &priced)
	if err != nil {
		if !isBusiness(err) {
			return nil, err
		}
		// Nothing was written: the order is refused before any step.
		out.Status, out.Reason = Cancelled, saga.Reason(err)
		r.logger.Info("order refused", "step", spec.StepValidate, "reason", out.Reason)
		return out, nil
	}

	order := spec.Order{
		SagaID:     workflow.GetInfo(ctx).WorkflowExecution.ID,
		OrderID:    r.in.OrderID,
		CustomerID: r.in.CustomerID,
		Lines:      priced.Lines,
		TotalCents: priced.TotalCents,
	}
	out.TotalCents = order.TotalCents

	err = r.saga.Run(ctx,
		saga.Step{
			Name:       spec.StepCreate,
			Action:     saga.Activity(spec.CreateOrder, order),
			Compensate: r.cancelOrder(order),
		},
		saga.Step{
			Name:       spec.StepReserve,
			Action:     saga.Activity(spec.ReserveInventory, order),
			Compensate: saga.Undo(spec.ReleaseInventory, order),
		},
		saga.Step{
			Name:       spec.StepCharge,
			Action:     saga.Activity(spec.ChargePayment, order),
			Compensate: saga.Undo(spec.RefundPayment, order),
		},
		saga.Step{
			Name:       spec.StepConfirm,
			Action:     r.confirm(order),
			Compensate: r.voidConfirm(order),
		},
	)
	event := spec.EventConfirmed
	var aborted *saga.AbortedError
	switch {
	case err == nil:
		out.Status = Confirmed
	case errors.As(err, &aborted):
		out.Status, out.Reason = Cancelled, saga.Reason(aborted.Cause)
		event = spec.EventCancelled
	default:
		r.logger.Error("saga compensation failed", "error", err)
		return nil, err
	}

	// The outcome is decided and in the outbox; publishing runs even when
	// the workflow was cancelled.
	pctx, _ := workflow.NewDisconnectedContext(ctx)
	pctx = workflow.WithActivityOptions(withStep(pctx, spec.StepPublish), publishOptions)
	var pub spec.PublishResult
	err = workflow.ExecuteActivity(pctx, spec.PublishEvent, spec.PublishInput{OrderID: order.OrderID, EventType: event}).Get(pctx, &pub)
	out.EventID = pub.EventID
	out.EventPublished = err == nil
	if err != nil {
		r.logger.Warn("event not published; it stays in the outbox", "step", spec.StepPublish, "error", err)
	}
	r.logger.Info("order saga finished", "status", out.Status, "reason", out.Reason)
	return out, nil
}

// cancelOrder compensates the create step with the reason of the failure.
func (r *orderRun) cancelOrder(order spec.Order) func(workflow.Context, saga.Failure) error {
	return func(ctx workflow.Context, f saga.Failure) error {
		o := order
		o.Reason = saga.Reason(f.Cause)
		return workflow.ExecuteActivity(ctx, spec.CancelOrder, o).Get(ctx, nil)
	}
}

// confirm runs the pivot. When it fails for good, it may still have
// committed (a lost response): VoidConfirm blocks any late attempt and says
// whether it had committed, in which case the saga goes on as confirmed.
func (r *orderRun) confirm(order spec.Order) func(workflow.Context) error {
	return func(ctx workflow.Context) error {
		err := workflow.ExecuteActivity(ctx, spec.ConfirmOrder, order).Get(ctx, nil)
		if err == nil || ctx.Err() != nil {
			return err
		}
		var res spec.VoidConfirmResult
		if verr := workflow.ExecuteActivity(ctx, spec.VoidConfirm, order).Get(ctx, &res); verr != nil {
			return errors.Join(err, verr)
		}
		if res.Confirmed {
			r.logger.Warn("confirm reported failure but had committed", "step", spec.StepConfirm, "error", err)
			return nil
		}
		return err
	}
}

// voidConfirm is the confirm step's compensation: it blocks a late confirm.
// When the confirm had committed, the order cannot be compensated any more:
// that is a compensation failure for an operator.
func (r *orderRun) voidConfirm(order spec.Order) func(workflow.Context, saga.Failure) error {
	return func(ctx workflow.Context, _ saga.Failure) error {
		var res spec.VoidConfirmResult
		if err := workflow.ExecuteActivity(ctx, spec.VoidConfirm, order).Get(ctx, &res); err != nil {
			return err
		}
		if res.Confirmed {
			return temporal.NewNonRetryableApplicationError(
				"order "+order.OrderID+" was confirmed before the saga compensated", spec.ErrConfirmCommitted, nil)
		}
		return nil
	}
}

func isBusiness(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

// withStep names the step in the activity's summary shown by the Web UI.
func withStep(ctx workflow.Context, step string) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = step
	return workflow.WithActivityOptions(ctx, opts)
}
