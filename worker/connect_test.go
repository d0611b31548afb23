package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
)

func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return ns
}

// TestNATSChecks: every stream and configured consumer is present,
// missing or different (naming the fields), and down only when fedsaga may
// not fix it (manage_streams = false).
func TestNATSChecks(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.NATS.URL = startNATS(t).ClientURL()
	bill := config.DefaultConsumer()
	bill.EventTypes = []string{"order.confirmed"}
	cfg.NATS.JetStream.Consumers = map[string]config.Consumer{"billing": bill}
	check := func(manage bool, name string) Check {
		t.Helper()
		cfg.NATS.JetStream.ManageStreams = manage
		for _, c := range NATSChecks(ctx, cfg, zerolog.Nop()) {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no check %q", name)
		return Check{}
	}
	expect := func(c Check, ok bool, state string, words ...string) {
		t.Helper()
		text := c.Detail + c.Error
		if c.OK != ok || c.State != state {
			t.Errorf("%s: ok %v, state %q (%s); want ok %v, state %q", c.Name, c.OK, c.State, text, ok, state)
		}
		for _, w := range words {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q does not say %q", c.Name, text, w)
			}
		}
	}
	// missing
	expect(check(true, "stream ORDERS"), true, StateMissing, "the worker creates it")
	expect(check(false, "stream ORDERS"), false, StateMissing, "StreamNotFoundError", "does not exist", "manage_streams is false")
	expect(check(true, "consumer billing"), true, StateMissing, "the worker creates it")
	expect(check(false, "consumer billing"), false, StateMissing, "ConsumerNotFoundError", "nats.jetstream.consumers.billing")

	// a stream with other subjects
	nc, err := ConnectNATS(cfg.NATS, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: config.OrdersStream, Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	expect(check(false, "stream ORDERS"), false, StateDifferent, "subjects is [other.>], configured [fedsaga.order.>]", "manage_streams is false")
	expect(check(true, "stream ORDERS"), true, StateDifferent, "the worker updates it", "subjects is [other.>]")

	// matching, as the worker makes them
	if err := EnsureStreams(ctx, js, cfg.NATS.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Ensure(ctx, js, consumer.Specs(cfg), true, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	expect(check(false, "stream ORDERS"), true, StatePresent, "present")
	expect(check(false, "consumer billing"), true, StatePresent, "present on stream ORDERS")

	// a consumer that differs from its configuration
	bill.AckWait, bill.MaxDeliveries = 10*time.Second, 7
	cfg.NATS.JetStream.Consumers["billing"] = bill
	expect(check(false, "consumer billing"), false, StateDifferent, "ack_wait is 30s, configured 10s", "max_deliveries is 5, configured 7")
	var nf *consumer.NotFoundError
	if _, err := consumer.Ensure(ctx, js, consumer.Specs(cfg), false, zerolog.Nop()); !errors.As(err, &nf) || !strings.Contains(err.Error(), "ack_wait") {
		t.Errorf("Ensure, unmanaged, different consumer: %v; want a NotFoundError naming ack_wait", err)
	}
	if _, err := consumer.Ensure(ctx, js, consumer.Specs(cfg), true, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	expect(check(false, "consumer billing"), true, StatePresent)

	cfg.NATS.URL = "nats://127.0.0.1:1"
	if c := check(false, "nats"); c.OK || !strings.Contains(c.Error, "nats://127.0.0.1:1") {
		t.Errorf("NATS down: %+v; want it down, naming the URL", c)
	}
}
