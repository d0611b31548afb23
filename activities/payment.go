package activities

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// ChargePayment takes the order's total from the customer's balance and
// records the transaction (payments database), in one statement with the
// barrier. The balance never goes negative: too little is a non-retryable
// InsufficientFundsError. It needs the customer id and the total only.
func (a *Activities) ChargePayment(ctx context.Context, o spec.Order) (spec.StepResult, error) {
	return a.forward(ctx, a.Payments, o, spec.StepCharge, func(q stepQuery) (bool, error) {
		var first, charged bool
		var balance *int64
		err := q(`charged AS (
			  UPDATE tb_account SET balance_cents = balance_cents - @total, updated_at = now()
			  WHERE customer_id = @customer_id AND balance_cents >= @total AND EXISTS (SELECT FROM barrier)
			  RETURNING customer_id),
			recorded AS (
			  INSERT INTO tb_transaction (order_id, customer_id, amount_cents, status)
			  SELECT @order_id::text, customer_id, @total::bigint, 'charged' FROM charged)
			SELECT EXISTS (SELECT FROM barrier), EXISTS (SELECT FROM charged),
			  (SELECT balance_cents FROM tb_account WHERE customer_id = @customer_id)`,
			pgx.NamedArgs{"order_id": o.OrderID, "customer_id": o.CustomerID, "total": o.TotalCents},
		).Scan(&first, &charged, &balance)
		switch {
		case err != nil:
			return false, fmt.Errorf("charge: %w", err)
		case !first || charged:
			return first, nil
		case balance == nil:
			return true, business(spec.ErrForeignKey, "customer does not exist: %s", o.CustomerID)
		}
		return true, business(spec.ErrInsufficientFunds,
			"insufficient funds: customer %s has %d cents, order %s needs %d",
			o.CustomerID, *balance, o.OrderID, o.TotalCents)
	})
}

// RefundPayment compensates ChargePayment: the charged amount goes back to
// the customer's balance and the transaction becomes refunded.
func (a *Activities) RefundPayment(ctx context.Context, o spec.Order) error {
	return a.compensate(ctx, a.Payments, o, spec.StepCharge, nil, unless(func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`WITH refunded AS (
			   UPDATE tb_transaction SET status = 'refunded', updated_at = now()
			   WHERE order_id = $1 AND status = 'charged'
			   RETURNING customer_id, amount_cents)
			 UPDATE tb_account a SET balance_cents = a.balance_cents + r.amount_cents, updated_at = now()
			 FROM refunded r WHERE a.customer_id = r.customer_id`,
			o.OrderID)
		if err != nil {
			return fmt.Errorf("refund: %w", err)
		}
		return nil
	}))
}
