package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/federation"
)

// Validate loads the products (inventory, by SKU) and the customer
// (payments) through the federation's batched loaders, concurrently, before
// anything is written. Unknown SKUs or customer fail with a non-retryable
// ForeignKeyError that lists every missing id. The result has one line per
// distinct SKU, sorted by product id, priced from the inventory database.
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

	var (
		products  []federation.Row[string, federation.Product]
		customers []federation.Row[string, string]
	)
	err := federation.Parallel(ctx,
		func(ctx context.Context) (err error) {
			products, err = a.Reader.ProductsBySKU(ctx, skus)
			return err
		},
		func(ctx context.Context) (err error) {
			customers, err = a.Reader.Customers(ctx, []string{in.CustomerID})
			return err
		},
	)
	if err != nil {
		return spec.ValidateResult{}, fmt.Errorf("validate order %s: %w", in.OrderID, err)
	}

	var missing []string
	if !customers[0].Found {
		missing = append(missing, "customer "+in.CustomerID)
	}
	var res spec.ValidateResult
	for _, row := range products {
		if !row.Found {
			missing = append(missing, "product "+row.Key)
			continue
		}
		p := row.Values[0]
		line := spec.Line{ProductID: p.ID, SKU: p.SKU, Name: p.Name, PriceCents: p.PriceCents, Quantity: qty[p.SKU]}
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
