package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// The demo catalogue and customers. GIZMO-LTD has little stock, so an order
// for more than it has is compensated; bob's balance is too small for
// large orders, so they are compensated after the inventory was reserved.
var (
	demoProducts = []struct {
		ID, SKU, Name string
		PriceCents    int64
		Stock         int
	}{
		{"prod-widget", "WIDGET", "Widget", 1999, 1000},
		{"prod-gadget", "GADGET", "Gadget", 4999, 500},
		{"prod-gizmo", "GIZMO-LTD", "Limited-edition gizmo", 9999, 3},
	}
	demoAccounts = []struct {
		CustomerID, Name string
		BalanceCents     int64
	}{
		{"alice", "Alice", 1_000_000},
		{"bob", "Bob", 5_000},
	}
)

func (a *app) seedCmd() *cobra.Command {
	var reset bool
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Load the demo products (inventory) and customer accounts (payments)",
		Long: `Load the demo products and accounts. Rows already there are kept as they are;
with --reset their stock and balances go back to the demo values.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dbs, err := a.databases()
			if err != nil {
				return err
			}
			defer dbs.Close()
			return seed(cmd.Context(), dbs, reset, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "restore demo stock and balances of existing rows")
	return cmd
}

func seed(ctx context.Context, dbs *pg.Registry, reset bool, out io.Writer) error {
	inventory, err := dbs.DB("inventory")
	if err != nil {
		return err
	}
	payments, err := dbs.DB("payments")
	if err != nil {
		return err
	}
	conflict := "DO NOTHING"
	if reset {
		conflict = "DO UPDATE SET stock = EXCLUDED.stock, price_cents = EXCLUDED.price_cents, name = EXCLUDED.name, updated_at = now()"
	}
	for _, p := range demoProducts {
		var tag string
		err := inventory.Query(ctx, func(c *pgxpool.Conn) error {
			t, err := c.Exec(ctx, `INSERT INTO tb_product (id, sku, name, price_cents, stock) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (id) `+conflict, p.ID, p.SKU, p.Name, p.PriceCents, p.Stock)
			tag = verdict(t.RowsAffected(), reset)
			return err
		})
		if err != nil {
			return fmt.Errorf("seed product %s: %w", p.SKU, err)
		}
		fmt.Fprintf(out, "inventory  product %-10s %-22s %6d cents  stock %4d  %s\n", p.SKU, p.Name, p.PriceCents, p.Stock, tag)
	}
	conflict = "DO NOTHING"
	if reset {
		conflict = "DO UPDATE SET balance_cents = EXCLUDED.balance_cents, name = EXCLUDED.name, updated_at = now()"
	}
	for _, acc := range demoAccounts {
		var tag string
		err := payments.Query(ctx, func(c *pgxpool.Conn) error {
			t, err := c.Exec(ctx, `INSERT INTO tb_account (customer_id, name, balance_cents) VALUES ($1, $2, $3)
				ON CONFLICT (customer_id) `+conflict, acc.CustomerID, acc.Name, acc.BalanceCents)
			tag = verdict(t.RowsAffected(), reset)
			return err
		})
		if err != nil {
			return fmt.Errorf("seed account %s: %w", acc.CustomerID, err)
		}
		fmt.Fprintf(out, "payments   account %-10s balance %9d cents  %s\n", acc.CustomerID, acc.BalanceCents, tag)
	}
	return nil
}

func verdict(rows int64, reset bool) string {
	switch {
	case rows == 0:
		return "(already there, kept)"
	case reset:
		return "(loaded or reset)"
	default:
		return "(loaded)"
	}
}
