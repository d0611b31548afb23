package activities_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/temporal"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// newActivities opens fresh, migrated orders, inventory and payments
// databases with one product (price priceCents, stock 10) and one customer.
func newActivities(t testing.TB, priceCents int64) *activities.Activities {
	t.Helper()
	dbs, err := pg.Open(pgtest.Databases(t, config.RequiredDatabases...), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dbs.Close)
	ctx := context.Background()
	inventory, _ := dbs.DB(config.InventoryDB)
	payments, _ := dbs.DB(config.PaymentsDB)
	if _, err := inventory.Pool().Exec(ctx,
		`INSERT INTO tb_product (id, sku, name, price_cents, stock) VALUES ('p1', 'W', 'Widget', $1, 10)`, priceCents); err != nil {
		t.Fatal(err)
	}
	if _, err := payments.Pool().Exec(ctx, `INSERT INTO tb_account (customer_id, balance_cents) VALUES ('alice', 100)`); err != nil {
		t.Fatal(err)
	}
	a, err := activities.New(dbs, config.Default().Federation, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func count(t *testing.T, db *pg.DB, sql string) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantInvalidInput(t *testing.T, what string, err error) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != spec.ErrInvalidInput || !app.NonRetryable() {
		t.Errorf("%s: %v; want a non-retryable %s error", what, err, spec.ErrInvalidInput)
	}
}

// TestActivitiesRefuseQuantitiesBeyondTheColumns: a quantity that an int32
// column cannot hold (2^32+1 would be stored as 1) is refused, and nothing
// is written; a total beyond int64 is refused too.
func TestActivitiesRefuseQuantitiesBeyondTheColumns(t *testing.T) {
	ctx := context.Background()
	a := newActivities(t, 100)
	const huge = 4294967297
	o := spec.Order{SagaID: "order-o1", OrderID: "o1", CustomerID: "alice", TotalCents: 100 * huge,
		Lines: []spec.Line{{ProductID: "p1", SKU: "W", Name: "Widget", Quantity: huge, PriceCents: 100}}}

	_, err := a.CreateOrder(ctx, o)
	wantInvalidInput(t, "CreateOrder", err)
	if n := count(t, a.Orders, `SELECT count(*) FROM tb_order_item`) + count(t, a.Orders, `SELECT count(*) FROM tb_order`); n != 0 {
		t.Errorf("CreateOrder wrote %d rows", n)
	}
	_, err = a.ReserveInventory(ctx, o)
	wantInvalidInput(t, "ReserveInventory", err)
	if n := count(t, a.Inventory, `SELECT stock FROM tb_product`); n != 10 {
		t.Errorf("ReserveInventory left stock %d, want 10", n)
	}
	for _, n := range []int{0, -1, spec.MaxQuantity + 1} {
		o.Lines[0].Quantity = n
		_, err = a.CreateOrder(ctx, o)
		wantInvalidInput(t, "CreateOrder", err)
	}

	_, err = a.Validate(ctx, spec.ValidateInput{OrderID: "o1", CustomerID: "alice", Items: []spec.Item{{SKU: "W", Quantity: huge}}})
	wantInvalidInput(t, "Validate", err)
	many := make([]spec.Item, 2000)
	for i := range many {
		many[i] = spec.Item{SKU: "W", Quantity: 1}
	}
	_, err = a.Validate(ctx, spec.ValidateInput{OrderID: "o1", CustomerID: "alice", Items: many})
	wantInvalidInput(t, "Validate of 2000 items", err)

	res, err := a.Validate(ctx, spec.ValidateInput{OrderID: "o1", CustomerID: "alice", Items: []spec.Item{{SKU: "W", Quantity: 3}}})
	if err != nil || res.TotalCents != 300 {
		t.Errorf("Validate of a valid order = %+v, %v; want a total of 300", res, err)
	}
}

func TestValidateRefusesATotalBeyondInt64(t *testing.T) {
	a := newActivities(t, 5_000_000_000_000_000_000)
	_, err := a.Validate(context.Background(), spec.ValidateInput{OrderID: "o1", CustomerID: "alice", Items: []spec.Item{{SKU: "W", Quantity: 2}}})
	wantInvalidInput(t, "Validate", err)
}
