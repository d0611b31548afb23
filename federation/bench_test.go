package federation_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// A page of 100 federated orders: the batched reader against a naive
// per-row reader (one query per order and relation, as an ORM's lazy
// loading does), in the same run, on the same data: 20,000 orders (40,000
// items), a table size where PostgreSQL plans the lookups as a running
// system would, with indexes.
//
//	go test ./federation -run '^$' -bench BenchmarkFederationPage -count 6 | benchstat -
func BenchmarkFederationPage(b *testing.B) {
	e := newEnv(b)
	pgtest.SeedOrders(b, e.cfg, 20000)
	ctx := context.Background()
	const size = 100
	perPage := func(reads func() map[string]int64) {
		var n int64
		for _, r := range reads() {
			n += r
		}
		b.ReportMetric(float64(n)/float64(b.N), "queries/page")
	}
	b.Run("batched", func(b *testing.B) {
		r := e.reader(b, nil)
		reads := e.reads(b)
		for b.Loop() {
			orders, _, err := r.Page(ctx, nil, size)
			if err != nil || len(orders) != size {
				b.Fatal(len(orders), err)
			}
		}
		perPage(reads)
	})
	b.Run("naive", func(b *testing.B) {
		reads := e.reads(b)
		for b.Loop() {
			orders, err := e.naivePage(ctx, b, size)
			if err != nil || len(orders) != size {
				b.Fatal(len(orders), err)
			}
		}
		perPage(reads)
	})
}

// naivePage loads a page the per-row way: the orders, then for every order
// its items, every item's product, its reservations and its payment, one
// query each.
func (e *env) naivePage(ctx context.Context, tb testing.TB, size int) ([]federation.Order, error) {
	o, inv, pay := e.db(tb, config.OrdersDB).Pool(), e.db(tb, config.InventoryDB).Pool(), e.db(tb, config.PaymentsDB).Pool()
	rows, err := o.Query(ctx, `SELECT id, customer_id, status, total_cents, coalesce(reason, ''), created_at, updated_at
		FROM tb_order ORDER BY created_at, id LIMIT $1`, size)
	if err != nil {
		return nil, err
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (x federation.Order, err error) {
		err = row.Scan(&x.ID, &x.CustomerID, &x.Status, &x.TotalCents, &x.Reason, &x.CreatedAt, &x.UpdatedAt)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for i := range orders {
		ord := &orders[i]
		rows, err := o.Query(ctx, `SELECT product_id, sku, quantity, price_cents FROM tb_order_item WHERE order_id = $1 ORDER BY product_id`, ord.ID)
		if err != nil {
			return nil, err
		}
		ord.Items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (it federation.Item, err error) {
			err = row.Scan(&it.ProductID, &it.SKU, &it.Quantity, &it.PriceCents)
			return it, err
		})
		if err != nil {
			return nil, err
		}
		for j := range ord.Items {
			var p federation.Product
			err := inv.QueryRow(ctx, `SELECT id, sku, name, price_cents, stock FROM tb_product WHERE id = $1`, ord.Items[j].ProductID).
				Scan(&p.ID, &p.SKU, &p.Name, &p.PriceCents, &p.Stock)
			if err == nil {
				ord.Items[j].Product = &p
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return nil, err
			}
		}
		rows, err = inv.Query(ctx, `SELECT product_id, quantity, status FROM tb_reservation WHERE order_id = $1 ORDER BY product_id`, ord.ID)
		if err != nil {
			return nil, err
		}
		ord.Reservations, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (r federation.Reservation, err error) {
			err = row.Scan(&r.ProductID, &r.Quantity, &r.Status)
			return r, err
		})
		if err != nil {
			return nil, err
		}
		var p federation.Payment
		err = pay.QueryRow(ctx, `SELECT status, amount_cents FROM tb_transaction WHERE order_id = $1`, ord.ID).Scan(&p.Status, &p.AmountCents)
		if err == nil {
			ord.Payment = &p
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
	}
	return orders, nil
}
