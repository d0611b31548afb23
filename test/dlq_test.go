package test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
)

// TestWorkerMovesDeadLetters: a service's consumer (no fedsaga code) fails
// an event max-deliveries times; the worker's mover puts it in ORDERS_DLQ,
// where `events dlq list` shows it; replay inside the stream's duplicate
// window refuses and changes nothing.
func TestWorkerMovesDeadLetters(t *testing.T) {
	s := stack
	ctx := context.Background()
	orderID := strings.ReplaceAll(uniq(t, "dlq"), ".", "-")
	data, _ := json.Marshal(events.New(events.TypeConfirmed, time.Now(), events.Order{OrderID: orderID, CustomerID: "alice"}))
	subject := events.Subject(orderID, events.TypeConfirmed)
	if _, err := s.JetStream.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data},
		jetstream.WithMsgID(events.ID(orderID, events.TypeConfirmed))); err != nil {
		t.Fatal(err)
	}
	durable := strings.ReplaceAll(orderID, "-", "_")
	cons, err := s.JetStream.CreateOrUpdateConsumer(ctx, config.OrdersStream, jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 2, FilterSubject: subject,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.JetStream.DeleteConsumer(context.Background(), config.OrdersStream, durable) })
	cc, err := cons.Consume(func(m jetstream.Msg) { _ = m.Nak() })
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()

	var dl consumer.DeadLetter
	deadline := time.Now().Add(60 * time.Second)
	for dl.ID == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dead letter did not reach ORDERS_DLQ within 60s")
		}
		time.Sleep(300 * time.Millisecond)
		r := fedsaga(t, nil, "events", "dlq", "list", "--output", "json")
		var list []consumer.DeadLetter
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil {
			t.Fatalf("events dlq list: %d %q %s", r.code, r.stdout, r.stderr)
		}
		for _, d := range list {
			if d.Consumer == durable {
				dl = d
			}
		}
	}
	if dl.Subject != subject || dl.Deliveries != 2 || dl.EventID != events.ID(orderID, events.TypeConfirmed) || dl.Status != consumer.StatusDead {
		t.Errorf("dead letter = %+v", dl)
	}
	r := fedsaga(t, nil, "events", "dlq", "replay", fmt.Sprint(dl.ID))
	if r.code != 1 || !strings.Contains(r.stderr, "duplicate window") || !strings.Contains(r.stderr, "nothing changed") {
		t.Errorf("replay inside the duplicate window: %d %q %s", r.code, r.stdout, r.stderr)
	}
	orders, _ := s.JetStream.Stream(ctx, config.OrdersStream)
	if m, err := orders.GetLastMsgForSubject(ctx, subject); err != nil || m.Sequence != dl.Sequence {
		t.Errorf("after a refused replay ORDERS holds %+v, %v; want the original sequence %d", m, err, dl.Sequence)
	}
}
