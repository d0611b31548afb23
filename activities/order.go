package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/tracing"
)

// CreateOrder stores the order as pending with its items (orders database),
// in one statement with the barrier.
func (a *Activities) CreateOrder(ctx context.Context, o spec.Order) (spec.StepResult, error) {
	ids, skus, names, qtys, prices, err := columns(o)
	if err != nil {
		return spec.StepResult{}, err
	}
	return a.forward(ctx, a.Orders, o, spec.StepCreate, stepStatement{What: "create order", SQL: `
		created AS (
		  INSERT INTO tb_order (id, customer_id, status, total_cents)
		  SELECT @order_id::text, @customer_id::text, 'pending', @total::bigint WHERE EXISTS (SELECT FROM barrier)
		  ON CONFLICT (id) DO NOTHING RETURNING id),
		items AS (
		  INSERT INTO tb_order_item (order_id, product_id, sku, name, quantity, price_cents)
		  SELECT c.id, l.* FROM created c,
		    unnest(@ids::text[], @skus::text[], @names::text[], @qtys::int[], @prices::bigint[]) l),
		result (first, failure_type, failure) AS (
		  SELECT EXISTS (SELECT FROM barrier),
		    CASE WHEN EXISTS (SELECT FROM barrier) AND NOT EXISTS (SELECT FROM created) THEN @order_state::text END,
		    format('order %s exists already and belongs to another saga', @order_id::text))`,
		Args: pgx.NamedArgs{"order_id": o.OrderID, "customer_id": o.CustomerID, "total": o.TotalCents,
			"ids": ids, "skus": skus, "names": names, "qtys": qtys, "prices": prices, "order_state": spec.ErrOrderState},
	})
}

// CancelOrder compensates CreateOrder: a pending order becomes cancelled and
// the order.cancelled event is written to the outbox in the same
// transaction. It also inserts the confirm step's barrier row, so a late
// ConfirmOrder can never confirm a cancelled order.
func (a *Activities) CancelOrder(ctx context.Context, o spec.Order) error {
	return a.compensate(ctx, a.Orders, o, spec.StepCreate, []string{spec.StepConfirm}, func(tx pgx.Tx, ran bool) error {
		ev, err := newEvent(ctx, events.TypeCancelled, o)
		if err != nil {
			return err
		}
		// The event is written also when the order never got stored: the
		// saga's outcome is still a cancelled order.
		var status *string
		err = tx.QueryRow(ctx, `WITH cancelled AS (
			  UPDATE tb_order SET status = 'cancelled', reason = @reason, updated_at = now()
			  WHERE id = @order_id AND status = 'pending' AND @ran::boolean RETURNING status),
			outcome AS (SELECT 1),
			`+outboxQuery+`
			SELECT coalesce((SELECT status FROM cancelled), (SELECT status FROM tb_order WHERE id = @order_id AND @ran::boolean))`,
			ev.args(pgx.NamedArgs{"order_id": o.OrderID, "reason": o.Reason, "ran": ran}),
		).Scan(&status)
		switch {
		case err != nil:
			return fmt.Errorf("cancel order: %w", err)
		case status != nil && *status != spec.StatusCancelled:
			return business(spec.ErrOrderState, "cannot cancel order %s: it is %s", o.OrderID, *status)
		}
		return nil
	})
}

// ConfirmOrder is the saga's pivot: a pending order becomes confirmed and the
// order.confirmed event is written to the outbox in the same statement as
// the barrier. Only a pending order is confirmed: a cancelled one stays
// cancelled.
func (a *Activities) ConfirmOrder(ctx context.Context, o spec.Order) (spec.StepResult, error) {
	ev, err := newEvent(ctx, events.TypeConfirmed, o)
	if err != nil {
		return spec.StepResult{}, err
	}
	return a.forward(ctx, a.Orders, o, spec.StepConfirm, stepStatement{What: "confirm order", SQL: `
		outcome AS (
		  UPDATE tb_order SET status = 'confirmed', updated_at = now()
		  WHERE id = @order_id AND status = 'pending' AND EXISTS (SELECT FROM barrier) RETURNING id),
		` + outboxQuery + `,
		result (first, failure_type, failure) AS (
		  SELECT EXISTS (SELECT FROM barrier),
		    CASE WHEN EXISTS (SELECT FROM barrier) AND NOT EXISTS (SELECT FROM outcome) THEN @order_state::text END,
		    format('cannot confirm order %s: it is not pending', @order_id::text))`,
		Args: ev.args(pgx.NamedArgs{"order_id": o.OrderID, "order_state": spec.ErrOrderState}),
	})
}

// VoidConfirm settles a confirm step that failed or may still be in flight:
// it inserts the confirm step's barrier row so that a late ConfirmOrder
// changes nothing, and reports whether the confirm had committed before.
// When it had not, VoidConfirm is the confirm's null compensation and
// inserts the compensation's row too, with the saga's reason (o.Reason):
// a ConfirmOrder run again after a lost workflow task then reports
// Compensated, and the saga compensates instead of confirming an order
// that stays pending.
func (a *Activities) VoidConfirm(ctx context.Context, o spec.Order) (spec.VoidConfirmResult, error) {
	var res spec.VoidConfirmResult
	err := a.Orders.Tx(ctx, func(tx pgx.Tx) error {
		blocked, err := claim(ctx, tx, o.SagaID, spec.StepConfirm, opAction, "")
		if err != nil {
			return err
		}
		if !blocked {
			var status string
			err = tx.QueryRow(ctx, `SELECT status FROM tb_order WHERE id = $1`, o.OrderID).Scan(&status)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("read order status: %w", err)
			}
			res.Confirmed = status == spec.StatusConfirmed
		}
		if res.Confirmed {
			return nil
		}
		_, err = claim(ctx, tx, o.SagaID, spec.StepConfirm, opCompensate, o.Reason)
		return err
	})
	if err == nil {
		stepLogger(ctx, o, spec.StepConfirm).Info("confirm voided", "was_confirmed", res.Confirmed)
	}
	return res, err
}

// outboxQuery is the WITH query that adds the order's event to the outbox,
// once per (order, type), when the statement's WITH query named outcome
// returns a row; its arguments are those of outboxEvent.args.
const outboxQuery = `event AS (
	  INSERT INTO tb_outbox (id, order_id, event_type, subject, payload, traceparent, tracestate)
	  SELECT @event_id::text, @order_id::text, @event_type::text, @subject::text, @payload::json,
	    NULLIF(@traceparent::text, ''), NULLIF(@tracestate::text, '')
	  WHERE EXISTS (SELECT FROM outcome)
	  ON CONFLICT (id) DO NOTHING)`

// outboxEvent is an order's event as its outbox row holds it.
type outboxEvent struct {
	ID, Type, Subject string
	Payload           string // the JSON envelope
	// The trace context of the step that wrote it ("" when not traced):
	// the publish, by the saga or the relay, continues that trace.
	TraceParent, TraceState string
}

// newEvent builds the order's event of the given type.
func newEvent(ctx context.Context, eventType string, o spec.Order) (outboxEvent, error) {
	status := spec.StatusConfirmed
	if eventType == events.TypeCancelled {
		status = spec.StatusCancelled
	}
	items := make([]events.Item, len(o.Lines))
	for i, l := range o.Lines {
		items[i] = events.Item{ProductID: l.ProductID, SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, PriceCents: l.PriceCents}
	}
	ev := events.New(eventType, time.Now(), events.Order{
		OrderID:    o.OrderID,
		CustomerID: o.CustomerID,
		Status:     status,
		TotalCents: o.TotalCents,
		Items:      items,
		Reason:     o.Reason,
	})
	// The step's span, when tracing: the event and its publish continue
	// the saga's trace.
	tc := tracing.FromContext(ctx)
	ev.TraceParent, ev.TraceState = tc.Parent, tc.State
	payload, err := json.Marshal(ev)
	if err != nil {
		return outboxEvent{}, err
	}
	return outboxEvent{ID: ev.ID, Type: eventType, Subject: events.Subject(o.OrderID, eventType), Payload: string(payload),
		TraceParent: tc.Parent, TraceState: tc.State}, nil
}

// args adds the event's arguments of outboxQuery to args.
func (ev outboxEvent) args(args pgx.NamedArgs) pgx.NamedArgs {
	args["event_id"], args["event_type"], args["subject"], args["payload"] = ev.ID, ev.Type, ev.Subject, ev.Payload
	args["traceparent"], args["tracestate"] = ev.TraceParent, ev.TraceState
	return args
}

// columns are the order's lines as the columns of tb_order_item. A
// quantity outside 1..spec.MaxQuantity is refused (non-retryable
// InvalidInput), never narrowed to fit the int32 column.
func columns(o spec.Order) (ids, skus, names []string, qtys []int32, prices []int64, err error) {
	if len(o.Lines) > spec.MaxItems {
		return nil, nil, nil, nil, nil, business(spec.ErrInvalidInput, "order %s: %d lines: %v", o.OrderID, len(o.Lines), spec.ErrItemCount)
	}
	for _, l := range o.Lines {
		q := l.Quantity
		if q < 1 || q > spec.MaxQuantity {
			return nil, nil, nil, nil, nil, business(spec.ErrInvalidInput,
				"order %s: product %s: quantity %d: %v", o.OrderID, l.ProductID, q, spec.ErrQuantity)
		}
		ids = append(ids, l.ProductID)
		skus = append(skus, l.SKU)
		names = append(names, l.Name)
		qtys = append(qtys, int32(q))
		prices = append(prices, l.PriceCents)
	}
	return ids, skus, names, qtys, prices, nil
}
