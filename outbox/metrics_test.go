package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/outbox"
)

// gauge reads a gauge of reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not registered", name)
	return 0
}

// TestRelayMeasuresTheBacklogAndItsOldestRow: the relay counts the
// unpublished rows and the age of the oldest, which keeps growing between
// measurements, and goes back to 0 once every row is published.
func TestRelayMeasuresTheBacklogAndItsOldestRow(t *testing.T) {
	db := ordersDB(t)
	js, _ := natstest.Orders(t)
	reg := prometheus.NewRegistry()
	// Delay is an hour: the relay leaves the rows alone and only measures.
	r := outbox.NewRelay(db, js, outbox.RelayOptions{Delay: time.Hour, Poll: 50 * time.Millisecond}, reg, zerolog.Nop())
	if got := gauge(t, reg, "fedsaga_outbox_oldest_unpublished_age_seconds"); got != 0 {
		t.Errorf("age before any measurement = %v, want 0", got)
	}
	insert(t, db, 10*time.Minute, event(t, "ord-old", events.TypeConfirmed))
	insert(t, db, time.Minute, event(t, "ord-young", events.TypeConfirmed))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "the backlog measured", func() bool { return gauge(t, reg, "fedsaga_outbox_backlog") == 2 })
	age := gauge(t, reg, "fedsaga_outbox_oldest_unpublished_age_seconds")
	if age < 600 || age > 660 {
		t.Errorf("oldest age = %vs, want the older row's, about 600s", age)
	}
	time.Sleep(100 * time.Millisecond)
	if later := gauge(t, reg, "fedsaga_outbox_oldest_unpublished_age_seconds"); later <= age {
		t.Errorf("oldest age %v then %v: it must keep growing", age, later)
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE tb_outbox SET published_at = now()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backlog emptied", func() bool {
		return gauge(t, reg, "fedsaga_outbox_backlog") == 0 && gauge(t, reg, "fedsaga_outbox_oldest_unpublished_age_seconds") == 0
	})
}
