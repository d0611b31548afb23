// Package seed loads fedsaga's demo data: products into the inventory
// database and customer accounts into the payments database, for `fedsaga
// seed`, `make run` and tests.
package seed

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/pg"
)

// Product is a demo product in the inventory database.
type Product = federation.Product

// Account is a demo customer account in the payments database.
type Account struct {
	CustomerID   string `json:"customer_id"`
	Name         string `json:"name"`
	BalanceCents int64  `json:"balance_cents"`
}

// The demo catalogue and customers. GIZMO-LTD has little stock, so an order
// for more than it has is compensated; bob's balance is too small for large
// orders, so they are compensated after the inventory was reserved.
var (
	Products = []Product{
		{ID: "prod-widget", SKU: "WIDGET", Name: "Widget", PriceCents: 1999, Stock: 1000},
		{ID: "prod-gadget", SKU: "GADGET", Name: "Gadget", PriceCents: 4999, Stock: 500},
		{ID: "prod-gizmo", SKU: "GIZMO-LTD", Name: "Limited-edition gizmo", PriceCents: 9999, Stock: 3},
	}
	Accounts = []Account{
		{"alice", "Alice", 1_000_000},
		{"bob", "Bob", 5_000},
	}
)

// Row is one demo row and what Load did with it.
type Row struct {
	Database string   `json:"database"`
	Product  *Product `json:"product,omitempty"`
	Account  *Account `json:"account,omitempty"`
	// Kept is true when the row was there already and Load left it as it
	// was.
	Kept bool `json:"kept"`
	// Reset is true when Load ran with reset.
	Reset bool `json:"reset"`
}

// String is the row as `fedsaga seed` prints it.
func (r Row) String() string {
	verdict := "(loaded)"
	switch {
	case r.Kept:
		verdict = "(already there, kept)"
	case r.Reset:
		verdict = "(loaded or reset)"
	}
	if p := r.Product; p != nil {
		return fmt.Sprintf("%-10s product %-10s %-22s %6d cents  stock %4d  %s", r.Database, p.SKU, p.Name, p.PriceCents, p.Stock, verdict)
	}
	a := r.Account
	return fmt.Sprintf("%-10s account %-10s balance %9d cents  %s", r.Database, a.CustomerID, a.BalanceCents, verdict)
}

// Load inserts the demo products and accounts. Rows already there are
// kept as they are; with reset, their stock, balances, prices and names go
// back to the demo values. It returns one Row per demo row, products first.
func Load(ctx context.Context, dbs *pg.Registry, reset bool) ([]Row, error) {
	var rows []Row
	productConflict, accountConflict := "DO NOTHING", "DO NOTHING"
	if reset {
		productConflict = "DO UPDATE SET stock = EXCLUDED.stock, price_cents = EXCLUDED.price_cents, name = EXCLUDED.name, updated_at = now()"
		accountConflict = "DO UPDATE SET balance_cents = EXCLUDED.balance_cents, name = EXCLUDED.name, updated_at = now()"
	}
	for _, p := range Products {
		row, err := insert(ctx, dbs, config.InventoryDB, reset, `INSERT INTO tb_product (id, sku, name, price_cents, stock)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) `+productConflict, p.ID, p.SKU, p.Name, p.PriceCents, p.Stock)
		if err != nil {
			return rows, fmt.Errorf("seed product %s: %w", p.SKU, err)
		}
		row.Product = &p
		rows = append(rows, row)
	}
	for _, a := range Accounts {
		row, err := insert(ctx, dbs, config.PaymentsDB, reset, `INSERT INTO tb_account (customer_id, name, balance_cents)
			VALUES ($1, $2, $3) ON CONFLICT (customer_id) `+accountConflict, a.CustomerID, a.Name, a.BalanceCents)
		if err != nil {
			return rows, fmt.Errorf("seed account %s: %w", a.CustomerID, err)
		}
		row.Account = &a
		rows = append(rows, row)
	}
	return rows, nil
}

// insert runs one upsert in the named database.
func insert(ctx context.Context, dbs *pg.Registry, database string, reset bool, sql string, args ...any) (Row, error) {
	row := Row{Database: database, Reset: reset}
	db, err := dbs.DB(database)
	if err != nil {
		return row, err
	}
	err = db.Query(ctx, func(c *pgxpool.Conn) error {
		tag, err := c.Exec(ctx, sql, args...)
		row.Kept = tag.RowsAffected() == 0
		return err
	})
	return row, err
}
