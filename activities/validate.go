package activities

import (
	"context"
	"fmt"
	"math"
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
//
// Items outside the order's limits (package spec) and a total beyond int64
// are refused with a non-retryable InvalidInput error.
func (a *Activities) Validate(ctx context.Context, in spec.ValidateInput) (spec.ValidateResult, error) {
	refuse := func(format string, args ...any) (spec.ValidateResult, error) {
		return spec.ValidateResult{}, business(spec.ErrInvalidInput, "order %s: "+format, append([]any{in.OrderID}, args...)...)
	}
	if err := spec.CheckItemCount(len(in.Items)); err != nil {
		return refuse("%d items: %v", len(in.Items), err)
	}
	qty := map[string]int{}
	var skus []string
	for _, it := range in.Items {
		if err := spec.CheckQuantity(it.Quantity); err != nil {
			return refuse("SKU %s: quantity %d: %v", spec.Quote(it.SKU), it.Quantity, err)
		}
		if _, ok := qty[it.SKU]; !ok {
			skus = append(skus, it.SKU)
		}
		qty[it.SKU] += it.Quantity // at most MaxItems × MaxQuantity
	}
	for _, sku := range skus {
		if err := spec.CheckQuantity(qty[sku]); err != nil {
			return refuse("SKU %s adds up to %d: %v", spec.Quote(sku), qty[sku], err)
		}
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
		// Prices are >= 0 (a CHECK constraint): the total stays within int64
		// when price × quantity <= MaxInt64 - total.
		if line.PriceCents < 0 || line.PriceCents > (math.MaxInt64-res.TotalCents)/int64(line.Quantity) {
			return refuse("the total exceeds %d cents at product %s", int64(math.MaxInt64), p.ID)
		}
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
