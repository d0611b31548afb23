package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// Validate reads the products (inventory) and the customer (payments)
// concurrently, before anything is written. Unknown SKUs or customer fail
// with a non-retryable ForeignKeyError that lists every missing id. The
// result has one line per distinct SKU, sorted by product id, priced from the
// inventory database.
func (a *Activities) Validate(ctx context.Context, in spec.ValidateInput) (spec.ValidateResult, error) {
	qty := map[string]int{}
	var skus []string
	for _, it := range in.Items {
		if _, ok := qty[it.SKU]; !ok {
			skus = append(skus, it.SKU)
		}
		qty[it.SKU] += it.Quantity
	}
	slices.Sort(skus)

	var products map[string]spec.Line
	var customerFound bool
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		products, err = a.loadProducts(gctx, skus)
		return err
	})
	g.Go(func() error {
		return a.Payments.Query(gctx, func(c *pgxpool.Conn) error {
			err := c.QueryRow(gctx, `SELECT true FROM tb_account WHERE customer_id = $1`, in.CustomerID).Scan(&customerFound)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	})
	if err := g.Wait(); err != nil {
		return spec.ValidateResult{}, fmt.Errorf("validate order %s: %w", in.OrderID, err)
	}

	var missing []string
	if !customerFound {
		missing = append(missing, "customer "+in.CustomerID)
	}
	var res spec.ValidateResult
	for _, sku := range skus {
		line, ok := products[sku]
		if !ok {
			missing = append(missing, "product "+sku)
			continue
		}
		line.Quantity = qty[sku]
		res.Lines = append(res.Lines, line)
		res.TotalCents += line.PriceCents * int64(line.Quantity)
	}
	if len(missing) > 0 {
		return spec.ValidateResult{}, business(spec.ErrForeignKey,
			"ForeignKeyError: does not exist: %s", strings.Join(missing, ", "))
	}
	slices.SortFunc(res.Lines, func(x, y spec.Line) int { return strings.Compare(x.ProductID, y.ProductID) })
	return res, nil
}

// loadProducts loads products by SKU in one query.
func (a *Activities) loadProducts(ctx context.Context, skus []string) (map[string]spec.Line, error) {
	out := make(map[string]spec.Line, len(skus))
	err := a.Inventory.Query(ctx, func(c *pgxpool.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, sku, name, price_cents FROM tb_product WHERE sku = ANY($1)`, skus)
		if err != nil {
			return err
		}
		var l spec.Line
		_, err = pgx.ForEachRow(rows, []any{&l.ProductID, &l.SKU, &l.Name, &l.PriceCents}, func() error {
			out[l.SKU] = l
			return nil
		})
		return err
	})
	return out, err
}
