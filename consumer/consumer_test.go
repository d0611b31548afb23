package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
)

// seenSet is a consumer.Seen the test can prefill.
type seenSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *seenSet) Seen(_ context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id], nil
}

func (s *seenSet) Mark(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id] = true
	return nil
}

// publish stores an order event as fedsaga publishes it.
func publish(t *testing.T, js jetstream.JetStream, orderID, eventType string) {
	t.Helper()
	data, err := json.Marshal(events.New(eventType, time.Now(), events.Order{OrderID: orderID, CustomerID: "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: events.Subject(orderID, eventType), Data: data}
	if _, err := js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(events.ID(orderID, eventType))); err != nil {
		t.Fatal(err)
	}
}

func TestConsumerSkipsProcessedAndDeadLetters(t *testing.T) {
	js, _ := natstest.Orders(t)
	const poison, skipped, good, cancelled = "ord-poison", "ord-skipped", "ord-good", "ord-cancelled"
	for _, id := range []string{poison, skipped, good} {
		publish(t, js, id, events.TypeConfirmed)
	}
	publish(t, js, cancelled, events.TypeCancelled)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := &seenSet{ids: map[string]bool{events.ID(skipped, events.TypeConfirmed): true}}
	c, err := consumer.New(ctx, js, consumer.Options{
		Durable: "billing", Types: []string{events.TypeConfirmed}, MaxDeliver: 3, AckWait: 2 * time.Second, Seen: seen,
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handled := map[string]int{}
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(_ context.Context, ev events.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			handled[ev.Data.OrderID]++
			if ev.Data.OrderID == poison {
				return errors.New("cannot handle this one")
			}
			return nil
		})
	}()

	// The poison message reaches the dead-letter stream after 3 deliveries.
	var dlq *jetstream.RawStreamMsg
	deadline := time.Now().Add(60 * time.Second)
	for {
		stream, err := js.Stream(ctx, "ORDERS_DLQ")
		if err == nil {
			dlq, err = stream.GetLastMsgForSubject(ctx, consumer.DeadLetterPrefix+events.Subject(poison, events.TypeConfirmed))
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("poison event not in ORDERS_DLQ within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if handled[poison] != 3 {
		t.Errorf("poison event handled %d times, want MaxDeliver = 3", handled[poison])
	}
	if handled[good] != 1 {
		t.Errorf("good event handled %d times, want 1", handled[good])
	}
	if handled[skipped] != 0 {
		t.Errorf("event already processed was handled %d times, want 0", handled[skipped])
	}
	if handled[cancelled] != 0 {
		t.Errorf("%s event handled by a consumer of %s only", events.TypeCancelled, events.TypeConfirmed)
	}
	if !seen.ids[events.ID(good, events.TypeConfirmed)] || seen.ids[events.ID(poison, events.TypeConfirmed)] {
		t.Errorf("Seen holds %v: want the handled event, not the failed one", seen.ids)
	}
	if dlq.Header.Get("Fedsaga-Deliveries") != "3" || dlq.Header.Get("Fedsaga-Original-Subject") != events.Subject(poison, events.TypeConfirmed) {
		t.Errorf("dead-letter headers %v", dlq.Header)
	}
	var ev events.Envelope
	if json.Unmarshal(dlq.Data, &ev) != nil || ev.Data.OrderID != poison {
		t.Errorf("dead-letter body is not the event")
	}
}

// TestConsumerHandlesARedeliveredEventOnce: an event whose ack was lost
// comes again; the default Seen skips it.
func TestConsumerHandlesARedeliveredEventOnce(t *testing.T) {
	js, _ := natstest.Orders(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	publish(t, js, "ord-1", events.TypeConfirmed)
	c, err := consumer.New(ctx, js, consumer.Options{Durable: "once", AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(_ context.Context, ev events.Envelope) error {
			handled <- ev.ID
			return nil
		})
	}()
	<-handled
	// The same event again, as a stream that lost the dedup state would
	// hold it: a copy on another subject with the same id.
	data, _ := json.Marshal(events.New(events.TypeConfirmed, time.Now(), events.Order{OrderID: "ord-1"}))
	if _, err := js.Publish(ctx, events.Subject("ord-1-copy", events.TypeConfirmed), data); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-handled:
		t.Errorf("event %s handled twice", id)
	case <-time.After(2 * time.Second):
	}
	cancel()
	<-done
}

func TestNewRefusesBadOptions(t *testing.T) {
	js, _ := natstest.Orders(t)
	ctx := context.Background()
	if _, err := consumer.New(ctx, js, consumer.Options{}); err == nil || !strings.Contains(err.Error(), "Durable") {
		t.Errorf("no Durable: %v", err)
	}
	_, err := consumer.New(ctx, js, consumer.Options{Durable: "x", Types: []string{"order.shipped"}})
	var te *events.TypeError
	if !errors.As(err, &te) || te.Type != "order.shipped" {
		t.Errorf("unknown type: %v; want an *events.TypeError", err)
	}
}

// TestMemorySeenIsBounded: after capacity+k marks the set holds capacity
// ids, the most recent ones.
func TestMemorySeenIsBounded(t *testing.T) {
	ctx := context.Background()
	const capacity, extra = 100, 37
	s := consumer.NewMemorySeen(capacity)
	for i := range capacity + extra {
		if err := s.Mark(ctx, fmt.Sprint("ev-", i)); err != nil {
			t.Fatal(err)
		}
		_ = s.Mark(ctx, fmt.Sprint("ev-", i)) // marking twice takes no room
	}
	if s.Len() != capacity {
		t.Errorf("Len() = %d after %d marks, want the capacity %d", s.Len(), capacity+extra, capacity)
	}
	for i := range capacity + extra {
		seen, _ := s.Seen(ctx, fmt.Sprint("ev-", i))
		if want := i >= extra; seen != want {
			t.Errorf("Seen(ev-%d) = %v, want %v (the oldest %d are forgotten)", i, seen, want, extra)
		}
	}
}

// TestConsumerSeenStaysBounded: a consumer that handled more events than
// its Seen holds keeps only the most recent ids.
func TestConsumerSeenStaysBounded(t *testing.T) {
	js, _ := natstest.Orders(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const capacity, sent = 5, 8
	for i := range sent {
		publish(t, js, fmt.Sprint("ord-", i), events.TypeConfirmed)
	}
	seen := consumer.NewMemorySeen(capacity)
	c, err := consumer.New(ctx, js, consumer.Options{Durable: "bounded", Seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	handled, done := start(ctx, c)
	for range sent {
		select {
		case <-handled:
		case <-time.After(30 * time.Second):
			t.Fatal("events not handled within 30s")
		}
	}
	cancel()
	<-done
	if seen.Len() != capacity {
		t.Errorf("Seen holds %d ids after %d events, want %d", seen.Len(), sent, capacity)
	}
}

// logLines is a zerolog sink that hands each line to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// start runs c until ctx is done, sending each event's order id to the
// returned channel; the error channel gets Run's result.
func start(ctx context.Context, c *consumer.Consumer) (<-chan string, <-chan error) {
	handled := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(_ context.Context, ev events.Envelope) error {
			handled <- ev.Data.OrderID
			return nil
		})
	}()
	return handled, done
}

// TestConsumerDeadLettersMalformedMessages: a message that is not an order
// event (not JSON, an unknown type) goes to the dead-letter stream at once
// with the reason, a log line names its subject and stream sequence, the
// handler never sees it, and the events after it are handled.
func TestConsumerDeadLettersMalformedMessages(t *testing.T) {
	js, stream := natstest.Orders(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	junk := events.Subject("ord-junk", events.TypeConfirmed)
	if _, err := js.Publish(ctx, junk, []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	shipped, _ := json.Marshal(events.New("order.shipped", time.Now(), events.Order{OrderID: "ord-shipped"}))
	odd := events.Subject("ord-shipped", events.TypeConfirmed)
	if _, err := js.Publish(ctx, odd, shipped); err != nil {
		t.Fatal(err)
	}
	publish(t, js, "ord-good", events.TypeConfirmed)

	logs := make(logLines, 100)
	c, err := consumer.New(ctx, js, consumer.Options{Durable: "strict", Logger: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	handled, done := start(ctx, c)
	select {
	case id := <-handled:
		if id != "ord-good" {
			t.Errorf("handler got %s, want only ord-good", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the good event was not handled within 30s")
	}

	dlq, err := js.Stream(ctx, "ORDERS_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for subject, reason := range map[string]string{junk: "not an order event", odd: `"order.shipped"`} {
		var msg *jetstream.RawStreamMsg
		waitUntil(t, "dead letter of "+subject, func() bool {
			msg, err = dlq.GetLastMsgForSubject(ctx, consumer.DeadLetterPrefix+subject)
			return err == nil
		})
		info, _ := stream.GetLastMsgForSubject(ctx, subject)
		if got := msg.Header.Get("Fedsaga-Original-Sequence"); got != fmt.Sprint(info.Sequence) {
			t.Errorf("dead letter of %s: Fedsaga-Original-Sequence %s, want %d", subject, got, info.Sequence)
		}
		if !strings.Contains(msg.Header.Get("Fedsaga-Reason"), reason) {
			t.Errorf("dead letter of %s: Fedsaga-Reason %q, want %q in it", subject, msg.Header.Get("Fedsaga-Reason"), reason)
		}
		line := fmt.Sprintf(`"subject":%q,"stream_seq":%d`, subject, info.Sequence)
		waitUntil(t, "log line "+line, func() bool {
			for {
				select {
				case l := <-logs:
					logged = append(logged, l)
				default:
					return slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, line) })
				}
			}
		})
	}
	select {
	case id := <-handled:
		t.Errorf("handler got %s", id)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	<-done
	// Terminated, not redelivered: nothing pending on the consumer.
	cons, err := js.Consumer(context.Background(), "ORDERS", "strict")
	if err != nil {
		t.Fatal(err)
	}
	if ci, err := cons.Info(context.Background()); err != nil || ci.NumAckPending != 0 || ci.NumPending != 0 {
		t.Errorf("consumer info %+v, %v: want nothing pending", ci, err)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
