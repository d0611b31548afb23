package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// streams starts a NATS server with fedsaga's default streams, the
// duplicate windows of ORDERS and ORDERS_DLQ shortened to window.
func streams(t *testing.T, window time.Duration) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Start(t))
	cfg := config.Default().NATS.JetStream
	for _, name := range []string{config.OrdersStream, config.DeadLetterStream} {
		s := cfg.Streams[name]
		s.DuplicateWindow = window
		cfg.Streams[name] = s
	}
	if err := worker.EnsureStreams(context.Background(), js, cfg, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	return js
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestDeadLetterMovedAfterDowntimeAndReplayedOnce: a handler fails every
// delivery while no fedsaga process runs (a plain JetStream consumer, no
// mover): the server keeps the advisory, and the mover, started later,
// puts the message in ORDERS_DLQ with where it came from. Replay brings it
// back once; replaying again changes nothing.
func TestDeadLetterMovedAfterDowntimeAndReplayedOnce(t *testing.T) {
	const window = 3 * time.Second
	js := streams(t, window)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const poison = "ord-poison"
	publish(t, js, poison, events.TypeConfirmed)

	// A service's consumer that fails every delivery; no fedsaga code.
	cons, err := js.CreateOrUpdateConsumer(ctx, config.OrdersStream, jetstream.ConsumerConfig{
		Durable: "billing", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 3, AckWait: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	var delivered []uint64 // stream sequences handled successfully
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if failing.Load() {
			_ = m.Nak()
			return
		}
		meta, _ := m.Metadata()
		mu.Lock()
		delivered = append(delivered, meta.Sequence.Stream)
		mu.Unlock()
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	waitUntil(t, "the advisory stored in "+config.AdvisoryStream, func() bool { return streamMsgs(t, js, config.AdvisoryStream) == 1 })
	if n := streamMsgs(t, js, config.DeadLetterStream); n != 0 {
		t.Fatalf("%d dead letters before the mover ran", n)
	}

	// The worker starts: its mover moves the advisory.
	mover, err := consumer.NewMover(ctx, js, consumer.MoverOptions{ManageStreams: true})
	if err != nil {
		t.Fatal(err)
	}
	moverCtx, stopMover := context.WithCancel(ctx)
	moverDone := make(chan struct{})
	go func() { mover.Run(moverCtx); close(moverDone) }()
	waitUntil(t, "the dead letter in "+config.DeadLetterStream, func() bool { return streamMsgs(t, js, config.DeadLetterStream) == 1 })
	waitUntil(t, "the advisory acknowledged (work queue)", func() bool { return streamMsgs(t, js, config.AdvisoryStream) == 0 })

	dlq, err := consumer.OpenDeadLetters(ctx, js, config.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dlq.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v; want one", list, err)
	}
	dl := list[0]
	subject, eventID := events.Subject(poison, events.TypeConfirmed), events.ID(poison, events.TypeConfirmed)
	if dl.Subject != subject || dl.Stream != config.OrdersStream || dl.Sequence != 1 || dl.Consumer != "billing" ||
		dl.Deliveries != 3 || dl.EventID != eventID || dl.Status != consumer.StatusDead {
		t.Errorf("dead letter = %+v", dl)
	}
	full, err := dlq.Get(ctx, dl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := events.Decode(full.Data); err != nil || ev.Data.OrderID != poison {
		t.Errorf("dead letter's data: %v, %v", ev, err)
	}

	// The same advisory again, after the dead-letter stream's duplicate
	// window: still one dead letter.
	time.Sleep(window)
	adv, _ := json.Marshal(consumer.Advisory{Stream: config.OrdersStream, Consumer: "billing", StreamSeq: 1, Deliveries: 3})
	if _, err := js.Publish(ctx, config.MaxDeliveriesSubject(config.OrdersStream, "billing"), adv); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the repeated advisory handled", func() bool { return streamMsgs(t, js, config.AdvisoryStream) == 0 })
	if n := streamMsgs(t, js, config.DeadLetterStream); n != 1 {
		t.Errorf("%d dead letters after a repeated advisory, want 1", n)
	}
	stopMover()
	<-moverDone

	// Replay: back once, with the event id, to the consumer that now works.
	failing.Store(false)
	got, err := dlq.Replay(ctx, dl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != consumer.StatusReplayed || got.ReplayedAs <= dl.Sequence {
		t.Fatalf("Replay = %+v", got)
	}
	orders, _ := js.Stream(ctx, config.OrdersStream)
	back, err := orders.GetLastMsgForSubject(ctx, subject)
	if err != nil || back.Sequence != got.ReplayedAs || back.Header.Get(jetstream.MsgIDHeader) != eventID ||
		back.Header.Get(consumer.HeaderReplayOf) != fmt.Sprintf("%s/%d", config.DeadLetterStream, dl.ID) {
		t.Fatalf("ORDERS holds %+v, %v", back, err)
	}
	waitUntil(t, "the replayed event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 1
	})

	// Replaying again, one or all, changes nothing.
	again, err := dlq.Replay(ctx, dl.ID)
	if err != nil || again.Status != consumer.StatusReplayed || again.ReplayedAs != got.ReplayedAs {
		t.Errorf("Replay again = %+v, %v", again, err)
	}
	all, err := dlq.ReplayAll(ctx)
	if err != nil || len(all) != 1 || all[0].ReplayedAs != got.ReplayedAs {
		t.Errorf("ReplayAll = %+v, %v", all, err)
	}
	time.Sleep(time.Second)
	if last, _ := orders.GetLastMsgForSubject(ctx, subject); last.Sequence != got.ReplayedAs {
		t.Errorf("ORDERS' message moved to sequence %d", last.Sequence)
	}
	if n := streamMsgs(t, js, config.OrdersStream); n != 1 {
		t.Errorf("ORDERS holds %d messages, want 1", n)
	}
	mu.Lock()
	if len(delivered) != 1 || delivered[0] != got.ReplayedAs {
		t.Errorf("handled %v, want only the replayed sequence %d", delivered, got.ReplayedAs)
	}
	mu.Unlock()

	// Purge empties the dead-letter stream.
	if n, err := dlq.Purge(ctx); err != nil || n != 1 {
		t.Errorf("Purge = %d, %v", n, err)
	}
	if list, err := dlq.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("after Purge, List = %+v, %v", list, err)
	}
	var nf *consumer.DeadLetterNotFoundError
	if _, err := dlq.Get(ctx, dl.ID); !errors.As(err, &nf) {
		t.Errorf("Get after Purge: %v, want DeadLetterNotFoundError", err)
	}
}

// TestReplayInsideTheDuplicateWindowChangesNothing: the stream would drop
// a republish with the event's id as a duplicate: replay refuses, and the
// original stays.
func TestReplayInsideTheDuplicateWindowChangesNothing(t *testing.T) {
	js := streams(t, time.Hour)
	ctx := context.Background()
	publish(t, js, "ord-young", events.TypeConfirmed)
	orders, _ := js.Stream(ctx, config.OrdersStream)
	raw, err := orders.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: config.DeadLetterPrefix + raw.Subject, Data: raw.Data, Header: nats.Header{}}
	msg.Header.Set(consumer.HeaderOriginalSubject, raw.Subject)
	msg.Header.Set(consumer.HeaderOriginalStream, config.OrdersStream)
	msg.Header.Set(consumer.HeaderOriginalSequence, "1")
	msg.Header.Set(consumer.HeaderOriginalMsgID, raw.Header.Get(jetstream.MsgIDHeader))
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := consumer.OpenDeadLetters(ctx, js, config.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dlq.Replay(ctx, ack.Sequence)
	var dw *consumer.DuplicateWindowError
	if !errors.As(err, &dw) || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("Replay inside the window: %v, want a DuplicateWindowError", err)
	}
	if still, err := orders.GetMsg(ctx, 1); err != nil || still.Subject != raw.Subject {
		t.Errorf("the original is gone: %v", err)
	}
}

// TestNewLeavesTheDeadLetterStreamToTheConfiguration: consumer.New
// creates ORDERS_DLQ only with ManageStreams, and never changes an
// existing one.
func TestNewLeavesTheDeadLetterStreamToTheConfiguration(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Start(t))
	ctx := context.Background()
	cfg := config.Default().NATS.JetStream
	delete(cfg.Streams, config.DeadLetterStream)
	if err := worker.EnsureStreams(ctx, js, cfg, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	_, err := consumer.New(ctx, js, consumer.Options{Durable: "billing"})
	if err == nil || !strings.Contains(err.Error(), "ORDERS_DLQ does not exist and nats.jetstream.manage_streams is false") {
		t.Fatalf("New without the dead-letter stream, unmanaged: %v", err)
	}
	if _, err := js.Stream(ctx, config.DeadLetterStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("unmanaged New created the dead-letter stream: %v", err)
	}
	if _, err := consumer.New(ctx, js, consumer.Options{Durable: "billing", ManageStreams: true}); err != nil {
		t.Fatalf("managed New: %v", err)
	}
	// Configured otherwise by the operator: New leaves it so.
	if _, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: config.DeadLetterStream,
		Subjects: []string{config.DeadLetterPrefix + ">"}, MaxMsgs: 10, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for _, manage := range []bool{false, true} {
		if _, err := consumer.New(ctx, js, consumer.Options{Durable: "billing", ManageStreams: manage}); err != nil {
			t.Fatal(err)
		}
		s, _ := js.Stream(ctx, config.DeadLetterStream)
		if info, err := s.Info(ctx); err != nil || info.Config.MaxMsgs != 10 {
			t.Errorf("ManageStreams %v: New changed the dead-letter stream: %+v, %v", manage, info.Config, err)
		}
	}
}

// TestDeadLetterNamesAgreeWithTheConfiguration: the consumer package's
// defaults are the configuration's stream names and subjects.
func TestDeadLetterNamesAgreeWithTheConfiguration(t *testing.T) {
	if consumer.DeadLetterPrefix != config.DeadLetterPrefix {
		t.Errorf("consumer.DeadLetterPrefix %q, config %q", consumer.DeadLetterPrefix, config.DeadLetterPrefix)
	}
	streams := config.Default().NATS.JetStream.Streams
	if s := streams[config.DeadLetterStream].Subjects; len(s) != 1 || s[0] != consumer.DeadLetterPrefix+">" {
		t.Errorf("ORDERS_DLQ subjects %q", s)
	}
}
