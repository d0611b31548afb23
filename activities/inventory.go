package activities

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// ReserveInventory takes the order's quantities out of stock and records a
// reservation per product (inventory database). Stock never goes negative:
// when a product has too little, nothing is reserved and the step fails with
// a non-retryable OutOfStockError naming every short product.
func (a *Activities) ReserveInventory(ctx context.Context, o spec.Order) error {
	ids, _, _, qtys, _, err := columns(o)
	if err != nil {
		return err
	}
	return a.forward(ctx, a.Inventory, o, spec.StepReserve, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`WITH want AS (SELECT * FROM unnest($1::text[], $2::int[]) AS w(id, qty)),
			      taken AS (
			        UPDATE tb_product p SET stock = p.stock - w.qty, updated_at = now()
			        FROM want w WHERE p.id = w.id AND p.stock >= w.qty
			        RETURNING p.id)
			 SELECT w.id, w.qty, coalesce(p.stock, 0)
			 FROM want w LEFT JOIN tb_product p ON p.id = w.id
			 WHERE w.id NOT IN (SELECT id FROM taken)
			 ORDER BY w.id`,
			ids, qtys)
		if err != nil {
			return fmt.Errorf("reserve stock: %w", err)
		}
		var short []string
		for rows.Next() {
			var id string
			var want, have int
			if err := rows.Scan(&id, &want, &have); err != nil {
				return err
			}
			short = append(short, fmt.Sprintf("%s (wanted %d, %d in stock)", id, want, have))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reserve stock: %w", err)
		}
		if len(short) > 0 {
			return business(spec.ErrOutOfStock, "out of stock: %s", strings.Join(short, ", "))
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO tb_reservation (order_id, product_id, quantity, status)
			 SELECT $1, id, qty, 'reserved' FROM unnest($2::text[], $3::int[]) AS w(id, qty)`,
			o.OrderID, ids, qtys)
		if err != nil {
			return fmt.Errorf("insert reservations: %w", err)
		}
		return nil
	})
}

// ReleaseInventory compensates ReserveInventory: the order's reservations are
// released and their quantities go back to stock.
func (a *Activities) ReleaseInventory(ctx context.Context, o spec.Order) error {
	return a.compensate(ctx, a.Inventory, o, spec.StepReserve, unless(func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`WITH released AS (
			   UPDATE tb_reservation SET status = 'released', updated_at = now()
			   WHERE order_id = $1 AND status = 'reserved'
			   RETURNING product_id, quantity)
			 UPDATE tb_product p SET stock = p.stock + r.quantity, updated_at = now()
			 FROM released r WHERE p.id = r.product_id`,
			o.OrderID)
		if err != nil {
			return fmt.Errorf("release reservation: %w", err)
		}
		return nil
	}))
}
