package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// ChargePayment takes the order's total from the customer's balance and
// records the transaction (payments database). The balance never goes
// negative: too little is a non-retryable InsufficientFundsError.
func (a *Activities) ChargePayment(ctx context.Context, o spec.Order) error {
	return a.forward(ctx, a.Payments, o, spec.StepCharge, func(tx pgx.Tx) error {
		var balance int64
		err := tx.QueryRow(ctx,
			`UPDATE tb_account SET balance_cents = balance_cents - $2, updated_at = now()
			 WHERE customer_id = $1 AND balance_cents >= $2 RETURNING balance_cents`,
			o.CustomerID, o.TotalCents).Scan(&balance)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `SELECT balance_cents FROM tb_account WHERE customer_id = $1`, o.CustomerID).Scan(&balance)
			if errors.Is(err, pgx.ErrNoRows) {
				return business(spec.ErrForeignKey, "customer does not exist: %s", o.CustomerID)
			}
			if err != nil {
				return fmt.Errorf("read balance: %w", err)
			}
			return business(spec.ErrInsufficientFunds,
				"insufficient funds: customer %s has %d cents, order %s needs %d",
				o.CustomerID, balance, o.OrderID, o.TotalCents)
		}
		if err != nil {
			return fmt.Errorf("charge: %w", err)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO tb_transaction (order_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, 'charged')`,
			o.OrderID, o.CustomerID, o.TotalCents)
		if err != nil {
			return fmt.Errorf("record transaction: %w", err)
		}
		return nil
	})
}

// RefundPayment compensates ChargePayment: the charged amount goes back to
// the customer's balance and the transaction becomes refunded.
func (a *Activities) RefundPayment(ctx context.Context, o spec.Order) error {
	return a.compensate(ctx, a.Payments, o, spec.StepCharge, unless(func(tx pgx.Tx) error {
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
