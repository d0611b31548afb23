// Package spec holds the names and the input and output types of fedsaga's
// activities. Workflows and the starter import it instead of the activities
// package, so they pull in no database or NATS code.
package spec

import "github.com/fedsaga/fedsaga/events"

// Activity names, as registered by the worker.
const (
	Validate         = "Validate"
	CreateOrder      = "CreateOrder"
	CancelOrder      = "CancelOrder"
	ReserveInventory = "ReserveInventory"
	ReleaseInventory = "ReleaseInventory"
	ChargePayment    = "ChargePayment"
	RefundPayment    = "RefundPayment"
	ConfirmOrder     = "ConfirmOrder"
	VoidConfirm      = "VoidConfirm"
	PublishEvent     = "PublishEvent"
)

// Step names, as stored in the barrier table (tb_barrier.step) and shown in
// logs and in the saga's state.
const (
	StepValidate = "validate"
	StepCreate   = "create_order"
	StepReserve  = "reserve_inventory"
	StepCharge   = "charge_payment"
	StepConfirm  = "confirm_order"
	StepPublish  = "publish_event"
)

// Error types of business failures. They are non-retryable: the saga
// compensates. Every other activity error is retried.
const (
	ErrForeignKey        = "ForeignKeyError"
	ErrOutOfStock        = "OutOfStockError"
	ErrInsufficientFunds = "InsufficientFundsError"
	ErrOrderState        = "OrderStateError"
	ErrConfirmCommitted  = "ConfirmCommittedError"
	// ErrAlreadyCompensated: a forward step found that its compensation
	// had run (StepResult.Compensated); the saga compensates again, which
	// the barrier makes a no-op for what is undone already.
	ErrAlreadyCompensated = "AlreadyCompensatedError"
)

// Order statuses (tb_order.status).
const (
	StatusPending   = "pending"
	StatusConfirmed = "confirmed"
	StatusCancelled = "cancelled"
)

// Item is one line of an order as a service places it: a SKU and a quantity.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// ValidateInput asks whether a customer and products exist.
type ValidateInput struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	Items      []Item `json:"items"`
}

// Line is an order line with the product resolved from its SKU.
type Line struct {
	ProductID  string `json:"product_id"`
	SKU        string `json:"sku,omitempty"`
	Name       string `json:"name,omitempty"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents,omitempty"`
}

// ValidateResult is the priced order: one line per distinct SKU.
type ValidateResult struct {
	Lines      []Line `json:"lines"`
	TotalCents int64  `json:"total_cents"`
}

// Order is the input of every database step and compensation. The saga
// gives each what it needs: the saga and order ids always; the lines with
// product ids and quantities to the reserve step; the customer and the
// total to the charge step; everything to the create, confirm and cancel
// steps (the last two write the event).
type Order struct {
	SagaID     string `json:"saga_id"` // the barrier key: the workflow id
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id,omitempty"`
	Lines      []Line `json:"lines,omitempty"`
	TotalCents int64  `json:"total_cents,omitempty"`
	// Reason says why the saga compensates; set for the compensations
	// only (CancelOrder writes it in the order and its event; each
	// compensation keeps it on its barrier row).
	Reason string `json:"reason,omitempty"`
}

// StepResult is the result of a forward step (CreateOrder,
// ReserveInventory, ChargePayment, ConfirmOrder).
type StepResult struct {
	// Compensated: the step's barrier row was there already and so was its
	// compensation's row. The step wrote nothing and succeeded, as the
	// barrier wants, but the saga was already compensated up to this step:
	// an earlier run of the saga's workflow task undid it and was then lost
	// (its worker died before the task completed). The saga must compensate,
	// not go on. Recorded histories from before the field decode it as false.
	Compensated bool `json:"compensated,omitempty"`
	// Reason is why the saga compensated, as the compensation recorded it
	// (tb_barrier.reason; "" when it recorded none).
	Reason string `json:"reason,omitempty"`
}

// VoidConfirmResult says whether the confirm step had committed before
// VoidConfirm blocked it.
type VoidConfirmResult struct {
	Confirmed bool `json:"confirmed"`
}

// PublishInput names the outbox event to publish.
type PublishInput struct {
	OrderID   string `json:"order_id"`
	EventType string `json:"event_type"`
}

// PublishResult is the PublishEvent activity's result: the stream's
// acknowledgement, as package events defines it.
type PublishResult = events.PublishResult
