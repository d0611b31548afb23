// Package events defines the order events fedsaga publishes to NATS
// JetStream: a CloudEvents 1.0 JSON envelope, a deterministic id per
// (order, event type) and one subject per event.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event types: the CloudEvents type of each order event.
const (
	// TypeConfirmed is published when an order saga confirmed the order.
	TypeConfirmed = "order.confirmed"
	// TypeCancelled is published when an order saga cancelled the order
	// (after compensating the steps that had run).
	TypeCancelled = "order.cancelled"
)

// Types lists every event type, in the order they are documented.
var Types = []string{TypeConfirmed, TypeCancelled}

// TypeError reports an event type that is not one of Types.
type TypeError struct {
	Type string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("event type %q: want %s", e.Type, strings.Join(Types, " or "))
}

// CheckType returns a *TypeError when t is not one of Types.
func CheckType(t string) error {
	if !slices.Contains(Types, t) {
		return &TypeError{Type: t}
	}
	return nil
}

// Source is the CloudEvents source of every order event.
const Source = "/fedsaga/order-saga"

// SubjectPrefix starts the subject of every order event.
const SubjectPrefix = "fedsaga.order."

// namespace makes event ids: UUIDv5(namespace, order id + "/" + type).
var namespace = uuid.MustParse("6f1e2a55-3b0c-4a8e-9d55-f3a1c0de5a9a")

// ID is the event id of an order's event of the given type. It is the same
// on every call, so every publish of one event carries one Nats-Msg-Id.
func ID(orderID, eventType string) string {
	return uuid.NewSHA1(namespace, []byte(orderID+"/"+eventType)).String()
}

// Subject is the subject an order event is published on:
// fedsaga.order.<order id>.<confirmed|cancelled>. One subject per event lets
// the stream keep at most one message per event (MaxMsgsPerSubject = 1).
func Subject(orderID, eventType string) string {
	return SubjectPrefix + orderID + "." + strings.TrimPrefix(eventType, "order.")
}

// Envelope is a CloudEvents 1.0 event in JSON form.
type Envelope struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"` // the order id
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Order     `json:"data"`
	// TraceParent and TraceState are the CloudEvents distributed-tracing
	// extension: the W3C trace context of the saga step that wrote the
	// event. Absent when tracing was off.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// Order is the data of an order event: what a consumer needs without
// querying fedsaga back.
type Order struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	Status     string `json:"status"`
	TotalCents int64  `json:"total_cents"`
	Items      []Item `json:"items"`
	Reason     string `json:"reason,omitempty"`
}

// Item is one order line in an event.
type Item struct {
	ProductID  string `json:"product_id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// New builds the envelope of an order event.
func New(eventType string, at time.Time, data Order) Envelope {
	return Envelope{
		SpecVersion:     "1.0",
		ID:              ID(data.OrderID, eventType),
		Source:          Source,
		Type:            eventType,
		Subject:         data.OrderID,
		Time:            at.UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
}

// PublishResult reports the stream's acknowledgement of an event publish.
// Duplicate is true when the stream already held the event (same
// Nats-Msg-Id inside the duplicate window, or the event's subject already
// stored): the event is published once either way.
type PublishResult struct {
	EventID   string `json:"event_id"`
	Stream    string `json:"stream"`
	Sequence  uint64 `json:"sequence"`
	Duplicate bool   `json:"duplicate"`
}

// DecodeError says why a message is not an order event. Err is the JSON
// error or the rule broken.
type DecodeError struct {
	Field string // the envelope's field at fault; "" when the JSON itself is
	Err   error
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "not an order event: " + e.Err.Error()
	}
	return "not an order event: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the JSON error or the rule broken.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads an order event: a CloudEvents 1.0 JSON envelope with an id,
// one of Types and the order's id as subject. Anything else is a
// *DecodeError. Unknown fields are ignored, so that events with fields
// added later still decode.
func Decode(data []byte) (Envelope, error) {
	var ev Envelope
	if err := json.Unmarshal(data, &ev); err != nil {
		return Envelope{}, &DecodeError{Err: err}
	}
	bad := func(field string, err error) (Envelope, error) {
		return Envelope{}, &DecodeError{Field: field, Err: err}
	}
	switch {
	case ev.SpecVersion != "1.0":
		return bad("specversion", fmt.Errorf("%q: want 1.0", cut(ev.SpecVersion)))
	case ev.ID == "":
		return bad("id", errors.New("required"))
	case CheckType(ev.Type) != nil:
		return bad("type", CheckType(cut(ev.Type)))
	case ev.Data.OrderID == "":
		return bad("data.order_id", errors.New("required"))
	case ev.Subject != ev.Data.OrderID:
		return bad("subject", fmt.Errorf("%q: want the order id %q", cut(ev.Subject), cut(ev.Data.OrderID)))
	}
	return ev, nil
}

// cut shortens a value echoed in an error.
func cut(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
