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
	return a.forward(ctx, a.Payments, o, spec.StepCharge, stepStatement{What: "charge", SQL: `
		charged AS (
		  UPDATE tb_account SET balance_cents = balance_cents - @total, updated_at = now()
		  WHERE customer_id = @customer_id AND balance_cents >= @total AND EXISTS (SELECT FROM barrier)
		  RETURNING customer_id),
		recorded AS (
		  INSERT INTO tb_transaction (order_id, customer_id, amount_cents, status)
		  SELECT @order_id::text, customer_id, @total::bigint, 'charged' FROM charged),
		result (first, failure_type, failure) AS (
		  SELECT EXISTS (SELECT FROM barrier),
		    CASE WHEN NOT EXISTS (SELECT FROM barrier) OR EXISTS (SELECT FROM charged) THEN NULL
		      WHEN a.balance_cents IS NULL THEN @no_customer::text ELSE @no_funds::text END,
		    CASE WHEN a.balance_cents IS NULL THEN format('customer does not exist: %s', @customer_id::text)
		      ELSE format('insufficient funds: customer %s has %s cents, order %s needs %s',
		        @customer_id::text, a.balance_cents, @order_id::text, @total::bigint) END
		  FROM (SELECT) one LEFT JOIN tb_account a ON a.customer_id = @customer_id)`,
		Args: pgx.NamedArgs{"order_id": o.OrderID, "customer_id": o.CustomerID, "total": o.TotalCents,
			"no_customer": spec.ErrForeignKey, "no_funds": spec.ErrInsufficientFunds},
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
