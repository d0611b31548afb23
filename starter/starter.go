// Package starter is the client library services use to start and inspect
// order sagas. It depends on the Temporal client and fedsaga's workflow
// names and types only: no database or NATS code comes with it.
//
//	c, _ := client.Dial(client.Options{HostPort: "127.0.0.1:7233"})
//	h, err := starter.PlaceOrder(ctx, c, starter.Request{
//		OrderID:    "ord-1001",
//		CustomerID: "alice",
//		Items:      []starter.Item{{SKU: "WIDGET", Quantity: 2}},
//	})
//	outcome, err := h.Result(ctx) // outcome.Status is "confirmed" or "cancelled"
//
// With tracing.Interceptor() among the client's Interceptors (package
// tracing), the saga's trace continues the span in the ctx given to
// PlaceOrder: one trace from the starting service to the event's consumer.
package starter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/workflows"
)

// DefaultTaskQueue is the task queue of the default configuration
// (temporal.task_queue).
const DefaultTaskQueue = "fedsaga-orders"

// Limits of an order: Request.Validate, PlaceOrder and ParseItem refuse
// what lies outside them, naming the limit (see package spec).
const (
	MaxQuantity = spec.MaxQuantity // of one SKU in an order
	MaxItems    = spec.MaxItems    // items in an order
	MaxIDLength = spec.MaxIDLength // bytes of an order id, customer id or SKU
)

// Item is one order line: a SKU and a quantity from 1 to MaxQuantity.
type Item = spec.Item

// Outcome is a finished saga's result.
type Outcome = workflows.Outcome

// Request places an order. OrderID may be empty: PlaceOrder then makes one.
type Request = workflows.PlaceOrderInput

// FieldError is one invalid field of a Request: PlaceOrder's error for
// invalid input holds one per problem.
type FieldError = workflows.FieldError

// FieldErrors returns the *FieldError values in err's tree, in order: every
// invalid field of a Request that PlaceOrder or Request.Validate refused.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// Option changes how PlaceOrder starts a saga.
type Option func(*options)

type options struct {
	taskQueue string
	customer  CustomerAttribute
	settings  *Settings
	eager     bool
}

// TaskQueue starts the saga on the given task queue instead of
// DefaultTaskQueue; it must be the workers' temporal.task_queue.
func TaskQueue(name string) Option { return func(o *options) { o.taskQueue = name } }

// Customer sets what the CustomerId search attribute of the saga holds;
// by default the customer id itself. Pass the workers' configuration
// (codec.customer_id_attribute) so that `fedsaga saga list --customer`
// finds the saga.
func Customer(a CustomerAttribute) Option { return func(o *options) { o.customer = a } }

// Settings are the saga settings of the workers (see workflows.Settings).
type Settings = workflows.Settings

// WithSettings passes the workers' saga settings in the saga's input
// (worker.Settings makes them from the configuration's [saga] and
// [events]), so that the saga records no marker for them: one history
// event less per saga. Without it the saga records the settings of the
// worker that runs it first, as before.
func WithSettings(s Settings) Option { return func(o *options) { o.settings = &s } }

// Eager asks the server to start the saga eagerly: its first workflow
// task goes back in the start call's response, to a worker of the task
// queue that runs in this process on the same client, with no hand-off
// through the task queue. It needs such a worker with a free workflow
// task slot (otherwise the saga starts as usual) and a server with
// system.enableEagerWorkflowStart = true. A service that embeds the
// worker gets its client from worker.Worker.Client.
func Eager() Option { return func(o *options) { o.eager = true } }

// WorkflowTaskTimeout is the order saga's workflow task timeout (Temporal's
// default is 10 s). In local mode (saga.mode = "local") a step that waits,
// on a row lock or a slow database, keeps its workflow task open, and the
// SDK heartbeats the task at 80 % of this timeout; queries (`fedsaga saga
// status`, the Web UI) and Updates (an operator's abort) reach the saga
// only at those heartbeats. With 10 s a query waited 8–16 s, beyond the
// client's 10 s query deadline, and a stuck saga could not be queried or
// aborted; with 4 s it waits 3.2–6.4 s. A worker that dies holding a task
// also gives it back sooner.
const WorkflowTaskTimeout = 4 * time.Second

// NewOrderID returns a fresh order id.
func NewOrderID() string { return "ord-" + uuid.NewString() }

// PlaceOrder starts the order saga for req and returns its handle. The
// workflow id derives from the order id, so placing the same order twice
// runs one saga: the second call returns the handle of the first. Invalid
// input starts nothing and returns an error naming each bad field.
func PlaceOrder(ctx context.Context, c client.Client, req Request, opts ...Option) (*Handle, error) {
	o := options{taskQueue: DefaultTaskQueue}
	for _, opt := range opts {
		opt(&o)
	}
	if req.OrderID == "" {
		req.OrderID = NewOrderID()
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("invalid order: %w", err)
	}
	value, _, err := o.customer.Value(req.CustomerID) // "" for CustomerNone
	if err != nil {
		return nil, err
	}
	req.Settings = o.settings
	req.CustomerAttribute = nil // the customer id, as in sagas started before the attribute existed
	if o.customer.Mode == CustomerHash || o.customer.Mode == CustomerNone {
		req.CustomerAttribute = &value
	}
	id := workflows.OrderWorkflowID(req.OrderID)
	start := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                o.taskQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowTaskTimeout:      WorkflowTaskTimeout,
		StaticSummary:            summary(req),
		// Set at start, the saga's search attributes cost no upsert.
		TypedSearchAttributes: workflows.StartSearchAttributes(req),
		EnableEagerStart:      o.eager,
	}
	run, err := c.ExecuteWorkflow(ctx, start, workflows.PlaceOrderName, req)
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.Error()), "search attribute") {
		// The namespace lacks them (no worker registered them yet): the
		// saga upserts them itself.
		start.TypedSearchAttributes = temporal.SearchAttributes{}
		run, err = c.ExecuteWorkflow(ctx, start, workflows.PlaceOrderName, req)
	}
	// A saga that already ran or runs for this order is returned, not run
	// again (the SDK turns "already started" into the existing run).
	if err != nil {
		return nil, fmt.Errorf("start order saga %s: %w", id, err)
	}
	return &Handle{OrderID: req.OrderID, WorkflowID: id, RunID: run.GetRunID(), run: run}, nil
}

// Order returns the handle of an order's saga, started earlier. It calls
// no service: Result finds the saga with the caller's context.
func Order(c client.Client, orderID string) *Handle {
	return &Handle{OrderID: orderID, WorkflowID: workflows.OrderWorkflowID(orderID), client: c}
}

// Handle is a started order saga.
type Handle struct {
	OrderID    string
	WorkflowID string
	RunID      string // "" for a Handle from Order: the latest run
	run        client.WorkflowRun
	client     client.Client
}

// Result waits for the saga to finish and returns its outcome.
func (h *Handle) Result(ctx context.Context) (*Outcome, error) {
	run := h.run
	if run == nil {
		run = h.client.GetWorkflow(ctx, h.WorkflowID, h.RunID)
	}
	var out Outcome
	if err := run.Get(ctx, &out); err != nil {
		return nil, fmt.Errorf("order saga %s: %w", h.WorkflowID, err)
	}
	return &out, nil
}

// ParseItem parses "SKU=QTY" as the CLI takes it. The SKU and the quantity
// must be within the order's limits (spec.CheckSKU, spec.CheckQuantity);
// the error then wraps the limit broken. String formats an Item back.
func ParseItem(s string) (Item, error) {
	sku, qty, ok := strings.Cut(s, "=")
	sku = strings.TrimSpace(sku)
	if !ok || sku == "" {
		return Item{}, fmt.Errorf("%s: want SKU=QTY, e.g. WIDGET=2", spec.Quote(s))
	}
	if err := spec.CheckSKU(sku); err != nil {
		return Item{}, fmt.Errorf("%s: SKU: %w", spec.Quote(s), err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(qty))
	if err != nil {
		n = 0 // not a number, or beyond int: out of bounds either way
	}
	if err := spec.CheckQuantity(n); err != nil {
		return Item{}, fmt.Errorf("%s: quantity: %w", spec.Quote(s), err)
	}
	return Item{SKU: sku, Quantity: n}, nil
}

// FormatItem is the "SKU=QTY" form of it that ParseItem reads.
func FormatItem(it Item) string { return it.SKU + "=" + strconv.Itoa(it.Quantity) }

// summary describes the order for the Web UI; the customer appears as its
// search attribute does (the id, its hash, or not at all).
func summary(req Request) string {
	parts := make([]string, len(req.Items))
	for i, it := range req.Items {
		parts[i] = fmt.Sprintf("%d×%s", it.Quantity, it.SKU)
	}
	customer := " for " + req.CustomerID
	if a := req.CustomerAttribute; a != nil && *a == "" {
		customer = ""
	} else if a != nil {
		customer = " for customer " + *a
	}
	return fmt.Sprintf("order %s%s: %s", req.OrderID, customer, strings.Join(parts, ", "))
}
