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

// CreateOrder stores the order as pending with its items (orders database).
func (a *Activities) CreateOrder(ctx context.Context, o spec.Order) error {
	ids, skus, names, qtys, prices, err := columns(o)
	if err != nil {
		return err
	}
	return a.forward(ctx, a.Orders, o, spec.StepCreate, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`INSERT INTO tb_order (id, customer_id, status, total_cents) VALUES ($1, $2, 'pending', $3)
			 ON CONFLICT (id) DO NOTHING`,
			o.OrderID, o.CustomerID, o.TotalCents)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return business(spec.ErrOrderState, "order %s exists already and belongs to another saga", o.OrderID)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO tb_order_item (order_id, product_id, sku, name, quantity, price_cents)
			 SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[])`,
			o.OrderID, ids, skus, names, qtys, prices)
		if err != nil {
			return fmt.Errorf("insert order items: %w", err)
		}
		return nil
	})
}

// CancelOrder compensates CreateOrder: a pending order becomes cancelled and
// the order.cancelled event is written to the outbox in the same
// transaction. It also inserts the confirm step's barrier row, so a late
// ConfirmOrder can never confirm a cancelled order.
func (a *Activities) CancelOrder(ctx context.Context, o spec.Order) error {
	return a.compensate(ctx, a.Orders, o, spec.StepCreate, func(tx pgx.Tx, ran bool) error {
		if _, err := claim(ctx, tx, o.SagaID, spec.StepConfirm, opAction); err != nil {
			return err
		}
		if ran {
			if err := cancelPending(ctx, tx, o); err != nil {
				return err
			}
		}
		// The event is written also when the order never got stored: the
		// saga's outcome is still a cancelled order.
		return writeEvent(ctx, tx, events.TypeCancelled, o)
	})
}

func cancelPending(ctx context.Context, tx pgx.Tx, o spec.Order) error {
	var status string
	err := tx.QueryRow(ctx,
		`UPDATE tb_order SET status = 'cancelled', reason = $2, updated_at = now()
		 WHERE id = $1 AND status = 'pending' RETURNING status`,
		o.OrderID, o.Reason).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT status FROM tb_order WHERE id = $1`, o.OrderID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // nothing stored, nothing to cancel
		}
		if err == nil && status != spec.StatusCancelled {
			return business(spec.ErrOrderState, "cannot cancel order %s: it is %s", o.OrderID, status)
		}
	}
	if err != nil {
		return fmt.Errorf("cancel order: %w", err)
	}
	return nil
}

// ConfirmOrder is the saga's pivot: a pending order becomes confirmed and the
// order.confirmed event is written to the outbox in the same transaction.
// Only a pending order is confirmed: a cancelled one stays cancelled.
func (a *Activities) ConfirmOrder(ctx context.Context, o spec.Order) error {
	return a.forward(ctx, a.Orders, o, spec.StepConfirm, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx,
			`UPDATE tb_order SET status = 'confirmed', updated_at = now()
			 WHERE id = $1 AND status = 'pending' RETURNING status`, o.OrderID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return business(spec.ErrOrderState, "cannot confirm order %s: it is not pending", o.OrderID)
		}
		if err != nil {
			return fmt.Errorf("confirm order: %w", err)
		}
		return writeEvent(ctx, tx, events.TypeConfirmed, o)
	})
}

// VoidConfirm settles a confirm step that failed or may still be in flight:
// it inserts the confirm step's barrier row so that a late ConfirmOrder
// changes nothing, and reports whether the confirm had committed before.
func (a *Activities) VoidConfirm(ctx context.Context, o spec.Order) (spec.VoidConfirmResult, error) {
	var res spec.VoidConfirmResult
	err := a.Orders.Tx(ctx, func(tx pgx.Tx) error {
		blocked, err := claim(ctx, tx, o.SagaID, spec.StepConfirm, opAction)
		if err != nil || blocked {
			return err
		}
		var status string
		err = tx.QueryRow(ctx, `SELECT status FROM tb_order WHERE id = $1`, o.OrderID).Scan(&status)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read order status: %w", err)
		}
		res.Confirmed = status == spec.StatusConfirmed
		return nil
	})
	if err == nil {
		stepLogger(ctx, o, spec.StepConfirm).Info("confirm voided", "was_confirmed", res.Confirmed)
	}
	return res, err
}

// writeEvent adds the order's event to the outbox, once per (order, type).
func writeEvent(ctx context.Context, tx pgx.Tx, eventType string, o spec.Order) error {
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
		return err
	}
	_, err = tx.Exec(ctx,
		`INSERT INTO tb_outbox (id, order_id, event_type, subject, payload, traceparent, tracestate)
		 VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''))
		 ON CONFLICT (id) DO NOTHING`,
		ev.ID, o.OrderID, eventType, events.Subject(o.OrderID, eventType), string(payload), tc.Parent, tc.State)
	if err != nil {
		return fmt.Errorf("write outbox event: %w", err)
	}
	return nil
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
