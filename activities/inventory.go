package activities

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// ReserveInventory takes the order's quantities out of stock and records a
// reservation per product (inventory database), in one statement with the
// barrier. Stock never goes negative: when a product has too little,
// nothing is reserved (the statement fails whole) and the step fails with a
// non-retryable OutOfStockError naming every short product. It needs the lines' product
// ids and quantities only.
func (a *Activities) ReserveInventory(ctx context.Context, o spec.Order) (spec.StepResult, error) {
	ids, _, _, qtys, _, err := columns(o)
	if err != nil {
		return spec.StepResult{}, err
	}
	return a.forward(ctx, a.Inventory, o, spec.StepReserve, stepStatement{What: "reserve stock", SQL: `
		want AS (SELECT * FROM unnest(@ids::text[], @qtys::int[]) AS w(id, qty)),
		taken AS (
		  UPDATE tb_product p SET stock = p.stock - w.qty, updated_at = now()
		  FROM want w WHERE p.id = w.id AND p.stock >= w.qty AND EXISTS (SELECT FROM barrier)
		  RETURNING p.id),
		short AS (
		  SELECT string_agg(format('%s (wanted %s, %s in stock)', w.id, w.qty, coalesce(p.stock, 0)), ', ' ORDER BY w.id) AS list
		  FROM want w LEFT JOIN tb_product p ON p.id = w.id
		  WHERE w.id NOT IN (SELECT id FROM taken)),
		reserved AS (
		  INSERT INTO tb_reservation (order_id, product_id, quantity, status)
		  SELECT @order_id::text, id, qty, 'reserved' FROM want
		  WHERE EXISTS (SELECT FROM barrier) AND (SELECT list FROM short) IS NULL),
		result (first, failure_type, failure) AS (
		  SELECT EXISTS (SELECT FROM barrier),
		    CASE WHEN EXISTS (SELECT FROM barrier) AND list IS NOT NULL THEN @out_of_stock::text END,
		    'out of stock: ' || list
		  FROM short)`,
		Args: pgx.NamedArgs{"order_id": o.OrderID, "ids": ids, "qtys": qtys, "out_of_stock": spec.ErrOutOfStock},
	})
}

// ReleaseInventory compensates ReserveInventory: the order's reservations are
// released and their quantities go back to stock.
func (a *Activities) ReleaseInventory(ctx context.Context, o spec.Order) error {
	return a.compensate(ctx, a.Inventory, o, spec.StepReserve, nil, unless(func(tx pgx.Tx) error {
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
