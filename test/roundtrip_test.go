package test

import (
	"context"
	"testing"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/migrations"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
)

// happyRoundTrips is the number of statements that a confirmed order saga
// sends to PostgreSQL in all: each is one round trip (pgx prepares a
// statement once per connection, so a warm pool sends only Bind/Execute).
// Validate: two batched reads. Create, reserve, charge and confirm: one
// statement each, its own transaction (barrier and write in data-modifying
// WITH queries, no BEGIN or COMMIT). Publish: read the outbox row, mark it
// published. BENCHMARKS.md states it before and after (24 before fast
// mode, 16 with a BEGIN and a COMMIT around each step's statement).
const happyRoundTrips = 2 + 4 + 2

// TestRoundTripsPerSaga counts the statements a happy saga sends to the
// three databases (the query tracer of package pg), in both modes.
func TestRoundTripsPerSaga(t *testing.T) {
	s := stack
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		t.Run(mode, func(t *testing.T) {
			queue := s.extraWorker(t, func(c *config.Saga) { c.Mode = mode })
			p := s.addProduct(t, 250, 10)
			customer := s.addCustomer(t, 10_000)
			req := starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer,
				Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}}
			// Warm up: the pools connect and prepare their statements.
			s.placeOn(t, queue, starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer, Items: req.Items})

			before := s.statements(t)
			out := s.placeOn(t, queue, req)
			after := s.statements(t)
			if out.Status != workflows.Confirmed || !out.EventPublished {
				t.Fatalf("outcome %+v, want confirmed and published", out)
			}
			total := int64(0)
			for _, name := range migrations.Databases {
				n := after[name].Statements - before[name].Statements
				t.Logf("%s: %d statements", name, n)
				total += n
			}
			if total != happyRoundTrips {
				t.Errorf("a happy saga sent %d statements to PostgreSQL, want %d", total, happyRoundTrips)
			}
		})
	}
}

// placeOn places an order on queue's workers and waits for its outcome.
func (s *Stack) placeOn(t *testing.T, queue string, req starter.Request) *starter.Outcome {
	t.Helper()
	out, err := s.start(t, req, queue).Result(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// statements are the stack's query counts per database (the extra
// workers' activities use the stack's pools).
func (s *Stack) statements(t *testing.T) map[string]pg.QueryStats {
	t.Helper()
	stats := map[string]pg.QueryStats{}
	for _, name := range migrations.Databases {
		db, err := s.DBs.DB(name)
		if err != nil {
			t.Fatal(err)
		}
		stats[name] = db.Stats()
	}
	return stats
}
