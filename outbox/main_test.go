package outbox_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// ordersDB creates a throwaway orders database on the machine's PostgreSQL,
// migrated, and returns it; the test drops it when it ends.
func ordersDB(t testing.TB) *pg.DB {
	t.Helper()
	reg, err := pg.Open(pgtest.Databases(t, config.OrdersDB), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	db, err := reg.DB(config.OrdersDB)
	if err != nil {
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
func event(t testing.TB, orderID, eventType string) row {
	t.Helper()
	payload, err := json.Marshal(events.New(eventType, time.Now(), events.Order{OrderID: orderID, CustomerID: "alice", Status: "confirmed", TotalCents: 100}))
	if err != nil {
		t.Fatal(err)
	}
	return row{id: events.ID(orderID, eventType), orderID: orderID, eventType: eventType, subject: events.Subject(orderID, eventType), payload: payload}
}

// insert writes rows to the outbox, created age ago, in the order given.
func insert(t testing.TB, db *pg.DB, age time.Duration, rows ...row) {
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
func unpublished(t testing.TB, db *pg.DB) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM tb_outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
