package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/outbox"
	"github.com/fedsaga/fedsaga/worker"
)

// natsConfig writes a configuration for the NATS server at url; the
// databases are never reached by the commands under test.
func natsConfig(t *testing.T, url, extra string) (string, *config.Config) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	content := fmt.Sprintf(`
[databases.orders]
url = "postgres://app@127.0.0.1:1/orders"
[databases.inventory]
url = "postgres://app@127.0.0.1:1/inventory"
[databases.payments]
url = "postgres://app@127.0.0.1:1/payments"
[nats]
url = %q
%s`, url, extra)
	path := filepath.Join(t.TempDir(), "fedsaga.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// fedsaga runs the command line in-process.
func fedsaga(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const consumersConfig = `
[nats.partitions]
count = 4
[nats.jetstream.consumers.billing]
event_types = ["order.confirmed"]
[nats.jetstream.consumers.ordered]
partitioned = true
`

// TestConsumerLag: after N events published while the consumers are
// stopped, `events consumers` and the fedsaga_consumer_* metrics report
// exactly N pending (per partition, the events of that partition); once a
// consumer has handled them, 0 pending and a last activity.
func TestConsumerLag(t *testing.T) {
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	path, cfg := natsConfig(t, ns.ClientURL(), consumersConfig)
	ctx := context.Background()
	if err := worker.EnsureStreams(ctx, js, cfg.NATS.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Ensure(ctx, js, consumer.Specs(cfg), true, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	const confirmed, cancelled = 23, 6
	perPartition := map[string]uint64{}
	for i := range confirmed + cancelled {
		typ := events.TypeConfirmed
		if i >= confirmed {
			typ = events.TypeCancelled
		}
		id := fmt.Sprintf("ord-%d", i)
		ev := events.New(typ, time.Now(), events.Order{OrderID: id, CustomerID: "alice"})
		data, _ := json.Marshal(ev)
		if _, err := outbox.Publish(ctx, js, ev.ID, events.Subject(id, typ), data); err != nil {
			t.Fatal(err)
		}
		if err := outbox.PublishPartition(ctx, js, 4, ev.ID, events.Subject(id, typ), data); err != nil {
			t.Fatal(err)
		}
		perPartition[consumer.PartitionDurable("ordered", events.Partition(id, 4))]++
	}
	want := map[string]uint64{"billing": confirmed}
	for d, n := range perPartition {
		want[d] = n
	}

	lags := func() map[string]consumer.Lag {
		t.Helper()
		code, out, errOut := fedsaga("events", "consumers", "--output", "json", "--config", path)
		if code != 0 {
			t.Fatalf("events consumers: exit %d: %s", code, errOut)
		}
		var list []consumer.Lag
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("events consumers --output json: %v: %s", err, out)
		}
		m := map[string]consumer.Lag{}
		for _, l := range list {
			m[l.Consumer] = l
		}
		return m
	}
	got := lags()
	if len(got) != 5 {
		t.Errorf("events consumers lists %d consumers, want 5 (billing, ordered-p0..3): %+v", len(got), got)
	}
	for d, n := range want {
		if l := got[d]; l.Pending != n || l.AckPending != 0 || l.Redelivered != 0 || l.LastActive != nil {
			t.Errorf("%s: %+v; want %d pending, nothing else", d, l, n)
		}
	}
	if l := got["ordered-p2"]; l.Configured != "ordered" || l.Partition == nil || *l.Partition != 2 || l.Stream != config.PartitionsStream {
		t.Errorf("ordered-p2: %+v; want configured ordered, partition 2, stream %s", l, config.PartitionsStream)
	}
	code, text, _ := fedsaga("events", "consumers", "--config", path)
	if code != 0 || !strings.Contains(text, "PENDING") || !strings.Contains(text, "billing") || !strings.Contains(text, fmt.Sprintf(" %d ", confirmed)) {
		t.Errorf("events consumers (text): exit %d:\n%s", code, text)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(consumer.NewCollector(js, consumer.Specs(cfg), zerolog.Nop()))
	metrics := func(name string) map[string]float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, metric := range f.GetMetric() {
				for _, l := range metric.GetLabel() {
					if l.GetName() == "durable" {
						m[l.GetValue()] = metric.GetGauge().GetValue()
					}
				}
			}
		}
		return m
	}
	pending := metrics("fedsaga_consumer_pending")
	for d, n := range want {
		if pending[d] != float64(n) {
			t.Errorf("fedsaga_consumer_pending{durable=%q} = %v, want %d", d, pending[d], n)
		}
	}

	// billing handles its events: nothing pending, a last activity
	opts, err := consumer.Configured(cfg, "billing")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := consumer.New(runCtx, js, opts)
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	go c.Run(runCtx, func(context.Context, events.Envelope) error { handled.Add(1); return nil })
	deadline := time.Now().Add(10 * time.Second)
	for metrics("fedsaga_consumer_pending")["billing"] != 0 || metrics("fedsaga_consumer_ack_pending")["billing"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("billing: %d handled, still pending after 10s", handled.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if l := lags()["billing"]; l.Pending != 0 || l.AckPending != 0 || l.LastActive == nil || handled.Load() != confirmed {
		t.Errorf("billing after handling %d: %+v; want nothing pending, a last activity", handled.Load(), l)
	}
	if last := metrics("fedsaga_consumer_last_active_timestamp_seconds")["billing"]; last < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("fedsaga_consumer_last_active_timestamp_seconds{durable=billing} = %v, want about now", last)
	}
	if p := metrics("fedsaga_consumer_pending")["ordered-p0"]; p != float64(want["ordered-p0"]) {
		t.Errorf("ordered-p0 pending = %v, want %d (untouched)", p, want["ordered-p0"])
	}
}

// TestHealthStreams: `fedsaga health --nats` against a missing stream, a
// stream with other subjects and a matching one, with manage_streams true
// and false: exit 1 only for what fedsaga may not fix, with the fields.
func TestHealthStreams(t *testing.T) {
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	managed, _ := natsConfig(t, ns.ClientURL(), "")
	unmanaged, cfg := natsConfig(t, ns.ClientURL(), "[nats.jetstream]\nmanage_streams = false\n")
	ctx := context.Background()
	health := func(path string, wantCode int, want ...string) {
		t.Helper()
		code, out, errOut := fedsaga("health", "--nats", "--config", path)
		if code != wantCode {
			t.Errorf("health (%s): exit %d, want %d\n%s%s", filepath.Base(filepath.Dir(path)), code, wantCode, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("health: output does not say %q:\n%s%s", w, out, errOut)
			}
		}
	}
	health(managed, 0, "stream ORDERS", "missing; the worker creates it at start-up")
	health(unmanaged, 1, "DOWN  stream ORDERS", "StreamNotFoundError: stream ORDERS does not exist", "down: stream ORDERS")

	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: config.OrdersStream, Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	health(managed, 0, "different; the worker updates it at start-up", "subjects is [other.>], configured [fedsaga.order.>]")
	health(unmanaged, 1, "StreamNotFoundError: stream ORDERS differs from nats.jetstream.streams.ORDERS (subjects is [other.>], configured [fedsaga.order.>]",
		"down: stream ORDERS")

	if err := worker.EnsureStreams(ctx, js, cfg.NATS.JetStream, zerolog.Nop()); err == nil {
		t.Fatal("EnsureStreams with manage_streams = false changed a different stream")
	}
	cfg.NATS.JetStream.ManageStreams = true
	if err := worker.EnsureStreams(ctx, js, cfg.NATS.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	health(managed, 0, "ok    stream ORDERS", "present")
	health(unmanaged, 0, "ok    stream ORDERS", "present")

	code, out, _ := fedsaga("health", "--nats", "--output", "json", "--config", unmanaged)
	var checks []worker.Check
	if err := json.Unmarshal([]byte(out), &checks); err != nil || code != 0 {
		t.Errorf("health --output json: exit %d, %v: %s", code, err, out)
	}
	states := map[string]string{}
	for _, c := range checks {
		states[c.Name] = c.State
	}
	if states["stream ORDERS"] != worker.StatePresent {
		t.Errorf("health --output json: %s; want stream ORDERS present", out)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTailConfiguredConsumer: `events tail --consumer NAME --partitions`
// reads through the configured, partitioned consumer, and only the
// partitions named.
func TestTailConfiguredConsumer(t *testing.T) {
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	path, cfg := natsConfig(t, ns.ClientURL(), consumersConfig)
	ctx := context.Background()
	if err := worker.EnsureStreams(ctx, js, cfg.NATS.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range 20 {
		id := fmt.Sprintf("ord-%d", i)
		ev := events.New(events.TypeConfirmed, time.Now(), events.Order{OrderID: id, CustomerID: "alice"})
		data, _ := json.Marshal(ev)
		if _, err := outbox.Publish(ctx, js, ev.ID, events.Subject(id, events.TypeConfirmed), data); err != nil {
			t.Fatal(err)
		}
		if err := outbox.PublishPartition(ctx, js, 4, ev.ID, events.Subject(id, events.TypeConfirmed), data); err != nil {
			t.Fatal(err)
		}
		if p := events.Partition(id, 4); p == 1 || p == 3 {
			want[id] = true
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, []string{"events", "tail", "--consumer", "ordered", "--partitions", "1,3", "--config", path}, &out, &errOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // nothing more may come
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("events tail: exit %d: %s", code, errOut.String())
	}
	got := map[string]bool{}
	for line := range strings.Lines(out.String()) {
		var ev events.Envelope
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		got[ev.Data.OrderID] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || strings.Count(out.String(), "\n") != len(want) {
		t.Errorf("tail printed orders %v (%d lines), want those of partitions 1 and 3: %v", got, strings.Count(out.String(), "\n"), want)
	}
}
