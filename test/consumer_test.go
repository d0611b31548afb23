package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
)

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
