package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/outbox"
)

// TestRelaysShareTheOutbox: three relays drain one outbox at once; each
// event is stored once, every row is marked, and each order's events reach
// the stream in the order they were written.
func TestRelaysShareTheOutbox(t *testing.T) {
	db := ordersDB(t)
	js, stream := natstest.Orders(t)
	ctx := context.Background()
	const orders, perOrder = 100, 4
	var rows []row
	for i := range orders * perOrder {
		order := fmt.Sprintf("ord-%d", i%orders)
		rows = append(rows, row{
			id: fmt.Sprintf("evt-%d", i), orderID: order, eventType: "order.test",
			subject: events.SubjectPrefix + order + fmt.Sprintf(".test%d", i/orders), payload: []byte(`{}`),
		})
	}
	insert(t, db, time.Minute, rows...)

	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			r := outbox.NewRelay(db, js, outbox.RelayOptions{Delay: time.Second, Batch: 50}, nil, zerolog.Nop())
			// A round can claim nothing while rows remain: an order's next
			// event waits until another relay commits the one before it.
			for time.Now().Before(deadline) {
				n, err := r.RelayOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 && unpublished(t, db) == 0 {
					return
				}
				if n == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := unpublished(t, db); n != 0 {
		t.Fatalf("%d rows left unpublished", n)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(events.SubjectPrefix+">"))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != len(rows) {
		t.Errorf("stream holds %d subjects, want %d", len(info.State.Subjects), len(rows))
	}
	for subject, n := range info.State.Subjects {
		if n != 1 {
			t.Errorf("%s holds %d messages", subject, n)
		}
	}
	// Per order, stream sequence follows outbox sequence.
	last := map[string]uint64{}
	for _, r := range rows {
		msg, err := stream.GetLastMsgForSubject(ctx, r.subject)
		if err != nil {
			t.Fatalf("%s not in the stream: %v", r.subject, err)
		}
		if msg.Header.Get(jetstream.MsgIDHeader) != r.id {
			t.Errorf("%s: Nats-Msg-Id %q, want the event id %q", r.subject, msg.Header.Get(jetstream.MsgIDHeader), r.id)
		}
		if msg.Sequence < last[r.orderID] {
			t.Errorf("order %s: %s stored before the event written before it", r.orderID, r.subject)
		}
		last[r.orderID] = msg.Sequence
	}
}

// TestRelayLeavesYoungRowsToTheSaga: rows younger than Delay are the saga's
// publish step's; the relay takes them once they are older.
func TestRelayLeavesYoungRowsToTheSaga(t *testing.T) {
	db := ordersDB(t)
	js, _ := natstest.Orders(t)
	insert(t, db, 0, event(t, "ord-young", events.TypeConfirmed))
	r := outbox.NewRelay(db, js, outbox.RelayOptions{Delay: time.Hour}, nil, zerolog.Nop())
	if n, err := r.RelayOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("relayed %d rows younger than Delay (%v), want 0", n, err)
	}
	r = outbox.NewRelay(db, js, outbox.RelayOptions{}, nil, zerolog.Nop())
	if n, err := r.RelayOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("relayed %d rows (%v), want 1", n, err)
	}
}

// TestPublishDeduplicatesByMessageID: the stream drops a second publish with
// the same Nats-Msg-Id inside its duplicate window, even on another
// subject.
func TestPublishDeduplicatesByMessageID(t *testing.T) {
	js, stream := natstest.Orders(t)
	ctx := context.Background()
	ev := event(t, "ord-dedup", events.TypeConfirmed)
	first, err := outbox.Publish(ctx, js, ev.id, ev.subject, ev.payload)
	if err != nil || first.Duplicate || first.EventID != ev.id || first.Sequence == 0 {
		t.Fatalf("first publish: %+v, %v", first, err)
	}
	other := events.Subject("ord-dedup", events.TypeCancelled)
	second, err := outbox.Publish(ctx, js, ev.id, other, ev.payload)
	if err != nil || !second.Duplicate {
		t.Fatalf("same id on %s: %+v, %v; want a duplicate", other, second, err)
	}
	if _, err := stream.GetLastMsgForSubject(ctx, other); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the duplicate was stored on %s: %v", other, err)
	}
}

// TestRepublishAfterDuplicateWindow: once the stream forgot the message id,
// a late publish of the event (a retry of the publish step, a relay that
// found the row unmarked) is refused by the one-message-per-subject limit
// and counts as published: still one message.
func TestRepublishAfterDuplicateWindow(t *testing.T) {
	db := ordersDB(t)
	js, stream := natstest.Orders(t)
	ctx := context.Background()
	cfg := stream.CachedInfo().Config
	cfg.Duplicates = time.Second
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	ev := event(t, "ord-late", events.TypeConfirmed)
	if _, err := outbox.Publish(ctx, js, ev.id, ev.subject, ev.payload); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the message id is forgotten now

	_, err := js.PublishMsg(ctx, outboxMsg(ev), jetstream.WithMsgID(ev.id))
	if !outbox.AlreadyStored(err) {
		t.Fatalf("publish after the window: %v; want AlreadyStored", err)
	}
	res, err := outbox.Publish(ctx, js, ev.id, ev.subject, ev.payload)
	if err != nil || !res.Duplicate {
		t.Errorf("Publish after the window: %+v, %v; want a duplicate", res, err)
	}
	insert(t, db, time.Minute, ev)
	r := outbox.NewRelay(db, js, outbox.RelayOptions{}, nil, zerolog.Nop())
	if n, err := r.RelayOnce(ctx); n != 1 || err != nil {
		t.Errorf("relay of a stored event: %d rows, %v; want 1 marked, no error", n, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(ev.subject))
	if err != nil || info.State.Subjects[ev.subject] != 1 {
		t.Errorf("%s holds %d messages (%v), want 1", ev.subject, info.State.Subjects[ev.subject], err)
	}
}

func TestAlreadyStoredIsOnlyThePerSubjectLimit(t *testing.T) {
	js, _ := natstest.Orders(t)
	ctx := context.Background()
	_, err := js.PublishMsg(ctx, outboxMsg(row{subject: "no.stream.here"}))
	if err == nil || outbox.AlreadyStored(err) {
		t.Errorf("publish without a stream: %v; AlreadyStored must be false", err)
	}
	if outbox.AlreadyStored(nil) || outbox.AlreadyStored(errors.New("maximum messages per subject exceeded")) {
		t.Error("AlreadyStored is true for an error that is not the stream's")
	}
}

// TestRelayRunStopsEverything: Run wakes on an outbox notification and,
// when its context ends, returns only after the listener it started has
// stopped and closed its connection.
func TestRelayRunStopsEverything(t *testing.T) {
	db := ordersDB(t)
	js, _ := natstest.Orders(t)
	r := outbox.NewRelay(db, js, outbox.RelayOptions{Delay: 50 * time.Millisecond, Poll: time.Hour}, nil, zerolog.Nop())
	for round := range 3 {
		// The previous round's connection has gone: a notification now
		// reaches this round's listener.
		waitFor(t, "no connection listens", func() bool { return listeners(t, db) == 0 })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Run(ctx)
		}()
		t.Cleanup(func() { cancel(); <-done })
		waitFor(t, "the relay listens", func() bool { return listeners(t, db) == 1 })
		// Poll is an hour: only the notification can wake the relay.
		ev := event(t, fmt.Sprintf("ord-run-%d", round), events.TypeConfirmed)
		insert(t, db, 0, ev)
		waitFor(t, "the notified row is published", func() bool { return unpublished(t, db) == 0 })
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of its context ending")
		}
		if stacks := goroutines("outbox.listen"); stacks != "" {
			t.Fatalf("round %d: Run returned while its listener still runs:\n%s", round, stacks)
		}
	}
}

// goroutines returns the stacks of the goroutines whose stack has fn.
func goroutines(fn string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			found = append(found, g)
		}
	}
	return strings.Join(found, "\n\n")
}

// listeners counts the connections listening on the outbox channel.
func listeners(t *testing.T, db *pg.DB) int {
	t.Helper()
	var n int
	err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state = 'idle' AND query LIKE 'LISTEN%' || $1 || '%'`, outbox.Channel).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// outboxMsg is the message of an outbox row, without a message id.
func outboxMsg(r row) *nats.Msg {
	return &nats.Msg{Subject: r.subject, Data: r.payload}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
