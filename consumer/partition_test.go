package consumer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/outbox"
	"github.com/fedsaga/fedsaga/worker"
)

// childEnv makes the test binary a partitioned consumer process
// (runChild) instead of running the tests.
const childEnv = "FEDSAGA_TEST_CONSUMER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	partitions   = 4
	handledKV    = "handled"
	duplicatesKV = "duplicates"
)

// kvSeen is a Seen on the bucket the handler writes: an event is seen once
// its record is there. The handler's Create is the mark, in one step with
// the effect, as a handler's database transaction would be.
type kvSeen struct{ kv jetstream.KeyValue }

func (s kvSeen) Seen(ctx context.Context, id string) (bool, error) {
	_, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (kvSeen) Mark(context.Context, string) error { return nil }

// handledRecord is what the handler stores per event.
type handledRecord struct {
	Order   string `json:"order"`
	Type    string `json:"type"`
	Process string `json:"process"`
}

// runChild consumes every partition of the durable "ordered" until
// killed: each event takes 20-60 ms and is recorded in the handled bucket
// with Create, which fails for a second record of one event (then it is
// counted in the duplicates bucket).
func runChild() error {
	name := os.Getenv(childEnv)
	nc, err := nats.Connect(os.Getenv("FEDSAGA_TEST_NATS_URL"))
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx := context.Background()
	handled, err := js.KeyValue(ctx, handledKV)
	if err != nil {
		return err
	}
	dups, err := js.KeyValue(ctx, duplicatesKV)
	if err != nil {
		return err
	}
	c, err := consumer.New(ctx, js, consumer.Options{
		Durable: "ordered", PartitionCount: partitions, AckWait: 2 * time.Second, MaxDeliver: 20, Seen: kvSeen{handled},
	})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	return c.Run(ctx, func(ctx context.Context, ev events.Envelope) error {
		time.Sleep(time.Duration(20+rand.IntN(40)) * time.Millisecond)
		rec, _ := json.Marshal(handledRecord{Order: ev.Data.OrderID, Type: ev.Type, Process: name})
		_, err := handled.Create(ctx, ev.ID, rec)
		if errors.Is(err, jetstream.ErrKeyExists) {
			_, err = dups.Create(ctx, ev.ID+"-"+name+"-"+strconv.FormatInt(time.Now().UnixNano(), 10), rec)
		}
		return err
	})
}

// startChild runs the test binary as consumer process name and waits
// until it consumes.
func startChild(t *testing.T, url, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, "FEDSAGA_TEST_NATS_URL="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("consumer %s did not start", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("consumer %s not ready after 30s", name)
	}
	return cmd
}

// partitionedOrders starts a server with the orders stream and the stream
// of the partition copies, as the worker creates them with
// [nats.partitions] count = n.
func partitionedOrders(t *testing.T, n int) (string, jetstream.JetStream) {
	t.Helper()
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	cfg := config.Default().NATS.JetStream
	part := cfg.Streams[config.OrdersStream]
	part.Subjects = []string{events.PartitionPrefix + ">"}
	cfg.Streams[config.PartitionsStream] = part
	if err := worker.EnsureStreams(context.Background(), js, cfg, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	return ns.ClientURL(), js
}

// publishEvent publishes an order event as fedsaga's publishers do with
// partitions on: on its subject, then its partition copy.
func publishEvent(t *testing.T, js jetstream.JetStream, n int, orderID, eventType string) {
	t.Helper()
	ev := events.New(eventType, time.Now(), events.Order{OrderID: orderID, CustomerID: "alice"})
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subject := events.Subject(orderID, eventType)
	if _, err := outbox.Publish(ctx, js, ev.ID, subject, data); err != nil {
		t.Fatal(err)
	}
	if err := outbox.PublishPartition(ctx, js, n, ev.ID, subject, data); err != nil {
		t.Fatal(err)
	}
}

// TestPartitionedConsumersKeepOrderAcrossAKill: two consumer processes
// over four partitions, 50 orders whose two events each are interleaved
// with the others', one process killed mid-run: every event is handled
// exactly once, and each order's events in the order they were published.
func TestPartitionedConsumersKeepOrderAcrossAKill(t *testing.T) {
	url, js := partitionedOrders(t, partitions)
	ctx := context.Background()
	handled, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: handledKV})
	if err != nil {
		t.Fatal(err)
	}
	dups, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: duplicatesKV})
	if err != nil {
		t.Fatal(err)
	}
	a := startChild(t, url, "a")
	startChild(t, url, "b")

	// 50 orders, each with its two events in a random order, interleaved.
	const orders = 50
	queue := map[string][]string{}
	var ids []string
	for i := range orders {
		id := fmt.Sprintf("ord-%02d", i)
		ids = append(ids, id)
		queue[id] = []string{events.TypeConfirmed, events.TypeCancelled}
		if rand.IntN(2) == 0 {
			queue[id] = []string{events.TypeCancelled, events.TypeConfirmed}
		}
	}
	want := map[string][]string{}
	for left := ids; len(left) > 0; {
		i := rand.IntN(len(left))
		id := left[i]
		publishEvent(t, js, partitions, id, queue[id][0])
		want[id] = append(want[id], queue[id][0])
		if queue[id] = queue[id][1:]; len(queue[id]) == 0 {
			left = append(left[:i:i], left[i+1:]...)
		}
	}
	const total = 2 * orders

	count := func() int {
		st, err := handled.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return int(st.Values())
	}
	deadline := time.Now().Add(60 * time.Second)
	for count() < total/3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d events handled after 60s", count(), total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	atKill := count()
	t.Logf("consumer a killed after %d of %d events", atKill, total)
	for count() < total {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d events handled after 60s", count(), total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // an in-flight delivery of a redelivers after the ack wait (2s)

	byProcess := map[string]int{}
	for _, id := range ids {
		var revs []uint64
		for _, typ := range want[id] {
			e, err := handled.Get(ctx, events.ID(id, typ))
			if err != nil {
				t.Fatalf("order %s, %s: %v", id, typ, err)
			}
			var rec handledRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				t.Fatal(err)
			}
			byProcess[rec.Process]++
			revs = append(revs, e.Revision())
		}
		if revs[0] > revs[1] {
			t.Errorf("order %s: %s (published first) handled after %s", id, want[id][0], want[id][1])
		}
	}
	if n := count(); n != total {
		t.Errorf("%d events handled, want %d", n, total)
	}
	if st, err := dups.Status(ctx); err != nil || st.Values() != 0 {
		t.Errorf("events handled twice: %v (%v)", st.Values(), err)
	}
	// a's last records may land just after the kill was sent: one per partition at most
	if byProcess["a"] == 0 || byProcess["b"] < total-atKill-partitions {
		t.Errorf("handled by process %v: want both to handle some, b those after the kill (%d)", byProcess, total-atKill)
	}
}

// TestPartitionMovesOnAfterDeadLetter: once a message of a partition has
// failed every delivery (it is the dead letters' then), the partition's
// next message is handled: one pending per partition does not block a
// partition for good.
func TestPartitionMovesOnAfterDeadLetter(t *testing.T) {
	_, js := partitionedOrders(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	poison := "ord-poison"
	next := ""
	for i := 0; next == ""; i++ {
		if id := fmt.Sprintf("ord-%d", i); events.Partition(id, 2) == events.Partition(poison, 2) {
			next = id
		}
	}
	publishEvent(t, js, 2, poison, events.TypeConfirmed)
	publishEvent(t, js, 2, next, events.TypeConfirmed)
	c, err := consumer.New(ctx, js, consumer.Options{Durable: "moves-on", PartitionCount: 2, MaxDeliver: 2, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 10)
	go c.Run(ctx, func(_ context.Context, ev events.Envelope) error {
		handled <- ev.Data.OrderID
		if ev.Data.OrderID == poison {
			return errors.New("always fails")
		}
		return nil
	})
	var order []string
	for timeout := time.After(20 * time.Second); len(order) == 0 || order[len(order)-1] != next; {
		select {
		case id := <-handled:
			order = append(order, id)
		case <-timeout:
			t.Fatalf("handled %v after 20s; want %s after the poison's 2 deliveries", order, next)
		}
	}
	if fmt.Sprint(order) != fmt.Sprint([]string{poison, poison, next}) {
		t.Errorf("handled %v; want the poison twice, then %s", order, next)
	}
}
