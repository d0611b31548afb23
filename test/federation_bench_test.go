package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// A page of 100 federated orders: the batched reader against a naive
// per-row reader (one query per order and relation, as an ORM's lazy
// loading does), and the read API's REST page against its GraphQL page of
// the same fields, in the same run, on the same data.
//
//	go test ./test -run '^$' -bench BenchmarkFederationPage -count 6 | benchstat -
var (
	seedBench  sync.Once
	benchStart federation.Cursor // the first of the seeded orders: the pages read are the ones after it
)

// seedBenchOrders writes 20,000 orders (40,000 items): a table size where
// PostgreSQL plans the lookups as a running system would, with indexes. The
// pages read start at the seeded orders, whatever else the run wrote.
func seedBenchOrders(b *testing.B) {
	seedBench.Do(func() {
		d := pgtest.SeedOrders(b, stack.Config.Databases, 20000)
		err := stack.pool(b, "orders").QueryRow(context.Background(),
			`SELECT created_at, id FROM tb_order WHERE id = ANY($1) ORDER BY created_at, id LIMIT 1`, d.IDs).Scan(&benchStart.CreatedAt, &benchStart.ID)
		if err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkFederationPage(b *testing.B) {
	seedBenchOrders(b)
	ctx := context.Background()
	const size = 100
	stats := func() map[string]pg.QueryStats {
		out := map[string]pg.QueryStats{}
		for _, name := range config.RequiredDatabases {
			db, _ := stack.DBs.DB(name)
			out[name] = db.Stats()
		}
		return out
	}
	queries := func(before map[string]pg.QueryStats) int64 {
		var n int64
		for db, st := range stats() {
			n += st.Reads - before[db].Reads
		}
		return n
	}

	r, err := federation.NewReader(stack.DBs, stack.Config.Federation)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("batched", func(b *testing.B) {
		before := stats()
		for b.Loop() {
			orders, _, err := r.Page(ctx, &benchStart, size)
			if err != nil || len(orders) != size {
				b.Fatal(len(orders), err)
			}
		}
		b.ReportMetric(float64(queries(before))/float64(b.N), "queries/page")
	})
	// The same page over HTTP, as a caller gets it: REST, which loads every
	// relation, and GraphQL selecting what REST answers; then GraphQL
	// selecting the ids only.
	h := (&api.Server{Reader: r, DefaultPageSize: size, MaxPageSize: size, GraphQL: config.DefaultGraphQL(), Logger: zerolog.Nop()}).Handler()
	after := benchStart.String()
	full, err := json.Marshal(map[string]any{"query": `query($after: String) { orders(first: 100, after: $after) { edges { node {
		id customerId status totalCents createdAt updatedAt
		items { productId quantity priceCents product { id sku name priceCents stock } }
		reservations { productId quantity status } payment { status amountCents } } } pageInfo { endCursor } } }`,
		"variables": map[string]any{"after": after}})
	if err != nil {
		b.Fatal(err)
	}
	ids, _ := json.Marshal(map[string]any{"query": `query($after: String) { orders(first: 100, after: $after) { edges { node { id } } } }`,
		"variables": map[string]any{"after": after}})
	for _, page := range []struct {
		name string
		req  func() *http.Request
	}{
		{"rest", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v1/orders?limit=%d&after=%s", size, after), nil)
		}},
		{"graphql", func() *http.Request { return graphQLRequest(full) }},
		{"graphql-ids", func() *http.Request { return graphQLRequest(ids) }},
	} {
		b.Run(page.name, func(b *testing.B) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, page.req())
			if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), `"id":`) < size || strings.Contains(rec.Body.String(), `"errors"`) {
				b.Fatalf("%s: %d %.300s", page.name, rec.Code, rec.Body.String())
			}
			before := stats()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, page.req())
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %.300s", page.name, rec.Code, rec.Body.String())
				}
			}
			b.ReportMetric(float64(queries(before))/float64(b.N), "queries/page")
		})
	}
	b.Run("naive", func(b *testing.B) {
		before := stats()
		for b.Loop() {
			orders, err := naivePage(ctx, b, size)
			if err != nil || len(orders) != size {
				b.Fatal(len(orders), err)
			}
		}
		b.ReportMetric(float64(queries(before))/float64(b.N), "queries/page")
	})
}

// graphQLRequest is a POST /graphql of body.
func graphQLRequest(body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// naivePage loads a page the per-row way: the orders, then for every order
// its items, every item's product, its reservations and its payment, one
// query each.
func naivePage(ctx context.Context, tb testing.TB, size int) ([]federation.Order, error) {
	o, inv, pay := stack.pool(tb, "orders"), stack.pool(tb, "inventory"), stack.pool(tb, "payments")
	rows, err := o.Query(ctx, `SELECT id, customer_id, status, total_cents, coalesce(reason, ''), created_at, updated_at
		FROM tb_order WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, benchStart.CreatedAt, benchStart.ID, size)
	if err != nil {
		return nil, err
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (federation.Order, error) {
		var x federation.Order
		err := row.Scan(&x.ID, &x.CustomerID, &x.Status, &x.TotalCents, &x.Reason, &x.CreatedAt, &x.UpdatedAt)
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
		ord.Items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (federation.Item, error) {
			var it federation.Item
			err := row.Scan(&it.ProductID, &it.SKU, &it.Quantity, &it.PriceCents)
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
		ord.Reservations, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (federation.Reservation, error) {
			var r federation.Reservation
			err := row.Scan(&r.ProductID, &r.Quantity, &r.Status)
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
