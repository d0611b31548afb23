package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/worker"
)

// TestEventsDLQ: a handler that always fails puts its event in ORDERS_DLQ;
// `events dlq` lists and shows it, replays it once (again changes
// nothing) and purges it.
func TestEventsDLQ(t *testing.T) {
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "fedsaga.toml")
	toml := fmt.Sprintf(`[databases.orders]
url = "postgres://a@127.0.0.1:1/orders"
[databases.inventory]
url = "postgres://a@127.0.0.1:1/inventory"
[databases.payments]
url = "postgres://a@127.0.0.1:1/payments"
[nats]
url = %q
[nats.jetstream.streams.ORDERS]
duplicate_window = "1s"
`, ns.ClientURL())
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.EnsureStreams(ctx, js, cfg.NATS.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	fedsaga := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"--config", path, "events", "dlq"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, out, _ := fedsaga("list"); code != 0 || !strings.Contains(out, "no dead letters in ORDERS_DLQ") {
		t.Errorf("list, empty: %d %q", code, out)
	}

	const orderID = "ord-dlq-cli"
	data, _ := json.Marshal(events.New(events.TypeConfirmed, time.Now(), events.Order{OrderID: orderID, CustomerID: "alice"}))
	msg := &nats.Msg{Subject: events.Subject(orderID, events.TypeConfirmed), Data: data}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(events.ID(orderID, events.TypeConfirmed))); err != nil {
		t.Fatal(err)
	}
	c, err := consumer.New(ctx, js, consumer.Options{Durable: "billing", MaxDeliver: 2, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{}, 10)
	var failing atomic.Bool
	failing.Store(true)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(runCtx, func(context.Context, events.Envelope) error {
			if failing.Load() {
				return errors.New("always fails")
			}
			handled <- struct{}{}
			return nil
		})
	}()
	var list []consumer.DeadLetter
	deadline := time.Now().Add(30 * time.Second)
	for len(list) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter within 30s")
		}
		time.Sleep(200 * time.Millisecond)
		code, out, stderr := fedsaga("list", "--output", "json")
		if code != 0 {
			t.Fatalf("list --output json: %d %s", code, stderr)
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("list --output json printed %q: %v", out, err)
		}
	}
	stop()
	<-done
	dl := list[0]
	if len(list) != 1 || dl.Subject != msg.Subject || dl.Consumer != "billing" || dl.Deliveries != 2 || dl.Status != "dead" {
		t.Fatalf("list = %+v", list)
	}
	id := fmt.Sprint(dl.ID)
	if code, out, _ := fedsaga("list"); code != 0 || !strings.Contains(out, msg.Subject) || !strings.Contains(out, "ORDERS:1") {
		t.Errorf("list: %d %q", code, out)
	}
	if code, out, _ := fedsaga("show", id); code != 0 || !strings.Contains(out, "consumer: billing, 2 deliveries") ||
		!strings.Contains(out, `"order_id":"`+orderID+`"`) {
		t.Errorf("show: %d %q", code, out)
	}

	// Replay to a consumer that works now: handled once.
	failing.Store(false)
	time.Sleep(time.Second) // ORDERS' duplicate window
	c, err = consumer.New(ctx, js, consumer.Options{Durable: "billing", MaxDeliver: 2, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop = context.WithCancel(ctx)
	defer stop()
	go func() {
		done <- c.Run(runCtx, func(context.Context, events.Envelope) error { handled <- struct{}{}; return nil })
	}()
	code, out, stderr := fedsaga("replay", id)
	if code != 0 || !strings.Contains(out, "replayed (ORDERS:2)") {
		t.Fatalf("replay: %d %q %s", code, out, stderr)
	}
	select {
	case <-handled:
	case <-time.After(30 * time.Second):
		t.Fatal("the replayed event was not handled within 30s")
	}
	for _, args := range [][]string{{"replay", id}, {"replay", "--all"}} {
		if code, out, stderr := fedsaga(args...); code != 0 || !strings.Contains(out, "replayed (ORDERS:2)") {
			t.Errorf("%s again: %d %q %s", args, code, out, stderr)
		}
	}
	select {
	case <-handled:
		t.Error("replaying again delivered the event again")
	case <-time.After(2 * time.Second):
	}

	if code, out, _ := fedsaga("purge"); code != 0 || out != "purged 1 dead letters from ORDERS_DLQ\n" {
		t.Errorf("purge: %d %q", code, out)
	}
	if code, _, stderr := fedsaga("show", id); code != 1 || !strings.Contains(stderr, "dead letter "+id+" is not in ORDERS_DLQ") {
		t.Errorf("show after purge: %d %s", code, stderr)
	}
}

func TestEventsDLQUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show"}, "takes one dead-letter id"},
		{[]string{"show", "abc"}, `ID "abc" is not a dead-letter id`},
		{[]string{"show", "0"}, `ID "0" is not a dead-letter id`},
		{[]string{"replay"}, "give a dead-letter ID"},
		{[]string{"replay", "3", "--all"}, "give an ID or --all, not both"},
		{[]string{"replay", "-1"}, "-1"},
		{[]string{"purge", "3"}, "takes no arguments"},
		{[]string{"lsit"}, "did you mean list"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"events", "dlq"}, tc.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("events dlq %q: exit %d, stderr %q; want 2 naming %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
