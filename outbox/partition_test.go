package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/outbox"
	"github.com/fedsaga/fedsaga/worker"
)

// TestRelayPublishesPartitionCopies: with partitions on, the relay stores
// each row on its subject and its partition copy, in the order of each
// order's events, and marks a row published only once both are stored.
func TestRelayPublishesPartitionCopies(t *testing.T) {
	db := ordersDB(t)
	js, _ := natstest.Orders(t)
	ctx := context.Background()
	const n = 4
	var rows []row
	for i := range 10 {
		id := fmt.Sprintf("ord-%d", i)
		rows = append(rows, event(t, id, events.TypeConfirmed), event(t, id, events.TypeCancelled))
	}
	insert(t, db, time.Minute, rows...)
	r := outbox.NewRelay(db, js, outbox.RelayOptions{Delay: time.Second, Partitions: n}, nil, zerolog.Nop())

	// no stream for the copies yet: nothing is marked published
	if _, err := r.RelayOnce(ctx); err == nil {
		t.Error("relay round without the partition stream: no error")
	}
	if left := unpublished(t, db); left != len(rows) {
		t.Errorf("%d rows left unpublished without the partition stream, want all %d", left, len(rows))
	}

	part := config.DefaultStream()
	part.Subjects = []string{events.PartitionPrefix + ">"}
	if _, err := js.CreateStream(ctx, worker.StreamConfig(config.PartitionsStream, part)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); unpublished(t, db) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows unpublished after 30s", unpublished(t, db))
		}
		if _, err := r.RelayOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := js.Stream(ctx, config.PartitionsStream)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]uint64{}
	for _, x := range rows {
		subject := events.PartitionSubject(x.orderID, x.eventType, n)
		msg, err := stream.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		if msg.Header.Get(jetstream.MsgIDHeader) != x.id || string(msg.Data) != string(x.payload) {
			t.Errorf("%s: Nats-Msg-Id %q; want the event id %q and its payload", subject, msg.Header.Get(jetstream.MsgIDHeader), x.id)
		}
		if msg.Sequence < last[x.orderID] {
			t.Errorf("order %s: %s stored before the event written before it", x.orderID, subject)
		}
		last[x.orderID] = msg.Sequence
	}
	if info, _ := stream.Info(ctx); info.State.Msgs != uint64(len(rows)) {
		t.Errorf("partition stream holds %d messages, want %d", info.State.Msgs, len(rows))
	}
}
