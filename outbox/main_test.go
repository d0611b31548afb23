package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/migrations"
)

// adminURL is the machine's PostgreSQL; FEDSAGA_TEST_POSTGRES overrides it.
func adminURL() string {
	if u := os.Getenv("FEDSAGA_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var dbSeq atomic.Int64

// ordersDB creates a throwaway orders database on the machine's PostgreSQL,
// migrates it and returns it; the test drops it when it ends.
func ordersDB(t *testing.T) *federation.DB {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("fedsaga_outbox_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	admin := func(sql string) error {
		conn, err := pgx.Connect(ctx, adminURL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dbc := config.DefaultDatabase()
	dbc.URL = u.String()
	reg, err := federation.Open(map[string]config.Database{"orders": dbc}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	db, err := reg.DB("orders")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(ctx, "orders", db.Pool()); err != nil {
		t.Fatal(err)
	}
	return db
}

// row is one outbox row a test writes.
type row struct {
	id, orderID, eventType, subject string
	payload                         []byte
}

// event is the outbox row of an order's event, as the saga writes it.
func event(t *testing.T, orderID, eventType string) row {
	t.Helper()
	payload, err := json.Marshal(events.New(eventType, time.Now(), events.Order{OrderID: orderID, CustomerID: "alice", Status: "confirmed", TotalCents: 100}))
	if err != nil {
		t.Fatal(err)
	}
	return row{id: events.ID(orderID, eventType), orderID: orderID, eventType: eventType, subject: events.Subject(orderID, eventType), payload: payload}
}

// insert writes rows to the outbox, created age ago, in the order given.
func insert(t *testing.T, db *federation.DB, age time.Duration, rows ...row) {
	t.Helper()
	for _, r := range rows {
		_, err := db.Pool().Exec(context.Background(), `
			INSERT INTO tb_outbox (id, order_id, event_type, subject, payload, created_at)
			VALUES ($1, $2, $3, $4, $5, now() - $6::interval)`, r.id, r.orderID, r.eventType, r.subject, string(r.payload), age)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// unpublished counts the outbox rows not marked published.
func unpublished(t *testing.T, db *federation.DB) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM tb_outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
