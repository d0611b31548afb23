package activities_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/outbox"
)

// TestStepNotificationsForwardedForCommittedStepsOnly: with notify_steps,
// observers (one per database, as [[observers]] configures them) forward
// one message per committed step to NATS, and none for a step whose
// transaction rolled back or that was a duplicate.
func TestStepNotificationsForwardedForCommittedStepsOnly(t *testing.T) {
	a := newActivities(t, 10)
	channel := "fedsaga_test_steps_" + strings.ToLower(rand.Text()[:8])
	a.StepChannel = channel
	nc, _ := natstest.Connect(t, natstest.Start(t))
	got := make(chan activities.StepNotification, 100)
	sub, err := nc.Subscribe("fedsaga.test.steps", func(m *nats.Msg) {
		var n activities.StepNotification
		if err := json.Unmarshal(m.Data, &n); err != nil {
			t.Errorf("forwarded %q: %v", m.Data, err)
		}
		got <- n
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbs := []*pg.DB{a.Orders, a.Inventory, a.Payments}
	for _, db := range dbs {
		go outbox.Observer{DB: db, Channel: channel, Subject: "fedsaga.test.steps"}.Run(ctx, nc, zerolog.Nop())
	}
	// Wait until every observer listens: a probe from each database arrives.
	for _, db := range dbs {
		deadline := time.Now().Add(30 * time.Second)
		for heard := false; !heard; {
			if time.Now().After(deadline) {
				t.Fatalf("observer of %s not listening within 30s", db.Name)
			}
			probe, _ := json.Marshal(activities.StepNotification{Step: "probe-" + db.Name})
			if _, err := db.Pool().Exec(ctx, `SELECT pg_notify($1, $2)`, channel, string(probe)); err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-got:
				heard = n.Step == "probe-"+db.Name
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	for len(got) > 0 {
		<-got // late probes
	}

	o := spec.Order{SagaID: "order-o1", OrderID: "o1", CustomerID: "alice", TotalCents: 30,
		Lines: []spec.Line{{ProductID: "p1", SKU: "W", Name: "Widget", Quantity: 3, PriceCents: 10}}}
	short := o
	short.SagaID, short.OrderID = "order-o2", "o2"
	short.Lines = []spec.Line{{ProductID: "p1", SKU: "W", Name: "Widget", Quantity: 11, PriceCents: 10}}
	poor := o
	poor.TotalCents = 1000
	steps := []struct {
		name    string
		run     func() error
		fails   bool
		forward *activities.StepNotification // nil: nothing committed, nothing forwarded
	}{
		{"create commits", func() error { _, err := a.CreateOrder(ctx, o); return err }, false,
			&activities.StepNotification{SagaID: "order-o1", OrderID: "o1", Step: spec.StepCreate, Status: activities.StepCompleted}},
		{"create again: a duplicate", func() error { _, err := a.CreateOrder(ctx, o); return err }, false, nil},
		{"reserve beyond stock rolls back", func() error { _, err := a.ReserveInventory(ctx, short); return err }, true, nil},
		{"reserve commits", func() error { _, err := a.ReserveInventory(ctx, o); return err }, false,
			&activities.StepNotification{SagaID: "order-o1", OrderID: "o1", Step: spec.StepReserve, Status: activities.StepCompleted}},
		{"charge beyond the balance rolls back", func() error { _, err := a.ChargePayment(ctx, poor); return err }, true, nil},
		{"release commits", func() error { return a.ReleaseInventory(ctx, o) }, false,
			&activities.StepNotification{SagaID: "order-o1", OrderID: "o1", Step: spec.StepReserve, Status: activities.StepCompensated}},
		{"refund of a charge that never ran: a null compensation commits", func() error { return a.RefundPayment(ctx, o) }, false,
			&activities.StepNotification{SagaID: "order-o1", OrderID: "o1", Step: spec.StepCharge, Status: activities.StepCompensated}},
		{"cancel commits", func() error { return a.CancelOrder(ctx, o) }, false,
			&activities.StepNotification{SagaID: "order-o1", OrderID: "o1", Step: spec.StepCreate, Status: activities.StepCompensated}},
		{"cancel again: a duplicate", func() error { return a.CancelOrder(ctx, o) }, false, nil},
	}
	for _, st := range steps {
		err := st.run()
		if (err != nil) != st.fails {
			t.Fatalf("%s: error %v", st.name, err)
		}
		if st.forward != nil {
			select {
			case n := <-got:
				if n != *st.forward {
					t.Errorf("%s: forwarded %+v, want %+v", st.name, n, *st.forward)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: nothing forwarded within 10s", st.name)
			}
		}
		select {
		case n := <-got:
			t.Errorf("%s: forwarded %+v, want nothing more", st.name, n)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
