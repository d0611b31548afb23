package test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
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

func TestConsumerSkipsProcessedAndDeadLetters(t *testing.T) {
	s := stack
	p := s.addProduct(t, 100, 10)
	customer := s.addCustomer(t, 10_000)
	poison, skipped, good := uniq(t, "ord"), uniq(t, "ord"), uniq(t, "ord")
	for _, id := range []string{poison, skipped, good} {
		s.place(t, starter.Request{OrderID: id, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}})
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := &seenSet{ids: map[string]bool{events.ID(skipped, events.TypeConfirmed): true}}
	durable := strings.ReplaceAll(uniq(t, "c"), ".", "_")
	c, err := consumer.New(ctx, s.JetStream, consumer.Options{
		Durable: durable, Types: []string{events.TypeConfirmed}, MaxDeliver: 3, AckWait: 2 * time.Second, Seen: seen,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.JetStream.DeleteConsumer(context.Background(), config.OrdersStream, durable) })

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
	waitFor(t, "poison event in ORDERS_DLQ", 60*time.Second, func() (bool, string) {
		stream, err := s.JetStream.Stream(ctx, "ORDERS_DLQ")
		if err != nil {
			return false, err.Error()
		}
		dlq, err = stream.GetLastMsgForSubject(ctx, consumer.DeadLetterPrefix+events.Subject(poison, events.TypeConfirmed))
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if handled[poison] != 3 {
		t.Errorf("poison event handled %d times, want max_deliver = 3", handled[poison])
	}
	if handled[good] != 1 {
		t.Errorf("good event handled %d times, want 1", handled[good])
	}
	if handled[skipped] != 0 {
		t.Errorf("event already processed was handled %d times, want 0", handled[skipped])
	}
	if dlq.Header.Get("Fedsaga-Deliveries") != "3" || dlq.Header.Get("Fedsaga-Original-Subject") != events.Subject(poison, events.TypeConfirmed) {
		t.Errorf("dead-letter headers %v", dlq.Header)
	}
	var ev events.Envelope
	if json.Unmarshal(dlq.Data, &ev) != nil || ev.Data.OrderID != poison {
		t.Errorf("dead-letter body is not the event")
	}
}

func TestEventsTailCLI(t *testing.T) {
	s := stack
	p := s.addProduct(t, 100, 10)
	rich, poor := s.addCustomer(t, 10_000), s.addCustomer(t, 10)
	confirmed, cancelled := uniq(t, "ord"), uniq(t, "ord")
	s.place(t, starter.Request{OrderID: confirmed, CustomerID: rich, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}})
	s.place(t, starter.Request{OrderID: cancelled, CustomerID: poor, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}})

	durable := strings.ReplaceAll(uniq(t, "tail"), ".", "_")
	t.Cleanup(func() { s.JetStream.DeleteConsumer(context.Background(), config.OrdersStream, durable) })
	cmd := exec.Command(fedsagaBin(t), "--config", s.ConfigPath, "events", "tail", "--type", events.TypeCancelled, "--durable", durable)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("tail stopped")
			}
			var ev events.Envelope
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("tail printed %q: %v", line, err)
			}
			if ev.Type != events.TypeCancelled {
				t.Fatalf("tail --type order.cancelled printed a %s", ev.Type)
			}
			if ev.Data.OrderID == confirmed {
				t.Fatalf("printed the confirmed order")
			}
			if ev.Data.OrderID == cancelled {
				return
			}
		case <-timeout:
			t.Fatal("the cancelled order's event was not printed within 30s")
		}
	}
}

func TestObserverForwardsNotifications(t *testing.T) {
	s := stack
	ctx := context.Background()
	nc, err := nats.Connect(s.nats.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan string, 100)
	sub, err := nc.Subscribe("fedsaga.test.changes", func(m *nats.Msg) { got <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	// deliver notifies until the payload arrives: LISTEN may be
	// re-establishing after a fault.
	deliver := func(payload string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			if _, err := s.pool(t, "orders").Exec(ctx, `SELECT pg_notify('fedsaga_test_changes', $1)`, payload); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-got:
				if m == payload {
					return
				}
			case <-time.After(300 * time.Millisecond):
			case <-deadline:
				t.Fatalf("notification %q not forwarded within 30s", payload)
			}
		}
	}
	deliver("first")

	// The database drops the LISTEN connection: the observer listens again.
	var dropped int64
	err = s.pool(t, "orders").QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%fedsaga_test_changes%'`).Scan(&dropped)
	if err != nil || dropped == 0 {
		t.Fatalf("dropped %d LISTEN connections: %v", dropped, err)
	}
	deliver("after the database dropped the connection")

	// NATS restarts: forwarding goes on.
	s.restartNATS(t, func() { time.Sleep(500 * time.Millisecond) })
	deliver(fmt.Sprintf("after NATS restarted %d", time.Now().UnixNano()))
}
