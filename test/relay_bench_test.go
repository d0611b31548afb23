package test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/migrations"
	"github.com/fedsaga/fedsaga/outbox"
)

// relayBacklog is the outbox backlog one benchmark operation drains.
const relayBacklog = 10_000

// BenchmarkRelay measures the outbox relay draining a backlog of 10,000
// events to JetStream, every publish acknowledged and every row marked
// published: one operation is one backlog, events/s the throughput. It runs
// with the workers' default batch (events.relay_batch) and a bigger one.
// The relay drains an orders database of its own, so that no other relay
// (the stack's worker, the saga benchmarks' workers) takes a share.
func BenchmarkRelay(b *testing.B) {
	s := stack
	ctx := context.Background()
	db := s.benchOrdersDB(b)
	_, js := natstest.Connect(b, s.nats) // as the worker connects (worker.New)
	payload := relayPayload(b)

	for _, batch := range []int{config.Default().Events.RelayBatch, 2000} {
		b.Run(fmt.Sprintf("backlog=%d/batch=%d", relayBacklog, batch), func(b *testing.B) {
			r := outbox.NewRelay(db, js, outbox.RelayOptions{Batch: batch}, nil, zerolog.Nop())
			cpu := map[string]time.Duration{}
			for range b.N {
				b.StopTimer()
				prefix := benchID("relay")
				_, err := db.Pool().Exec(ctx, `
					INSERT INTO tb_outbox (id, order_id, event_type, subject, payload)
					SELECT $1 || '-' || g, $1 || '-' || g, $4, replace($5, '*', $1 || '-' || g), $3::json
					FROM generate_series(1, $2) g`, prefix, relayBacklog, payload,
					events.TypeConfirmed, events.Subject("*", events.TypeConfirmed))
				if err != nil {
					b.Fatal(err)
				}
				before := s.sampleCPU(nil)
				b.StartTimer()
				published := 0
				for {
					n, err := r.RelayOnce(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						break
					}
					published += n
				}
				b.StopTimer()
				for group, d := range s.sampleCPU(nil).since(before) {
					cpu[group] += d
				}
				if published != relayBacklog {
					b.Fatalf("relayed %d events, want %d", published, relayBacklog)
				}
			}
			relayed := float64(b.N * relayBacklog)
			b.ReportMetric(relayed/b.Elapsed().Seconds(), "events/s")
			// The relay and NATS run in this process; PostgreSQL holds the outbox.
			for _, group := range []string{cpuPostgres, cpuBench} {
				b.ReportMetric(float64(cpu[group].Microseconds())/relayed, group+"-cpu-us/event")
			}
		})
	}
}

// relayPayload is the envelope of an order.confirmed event with two lines,
// the size of the events the order saga writes.
func relayPayload(b *testing.B) string {
	ev := events.New(events.TypeConfirmed, time.Now(), events.Order{
		OrderID: "ord-7b0e1f9c-3d64-4a55-9f0e-2c1d7a8b9e01", CustomerID: "alice", Status: "confirmed", TotalCents: 8997,
		Items: []events.Item{
			{ProductID: "prod-gadget", SKU: "GADGET", Name: "Gadget", Quantity: 1, PriceCents: 4999},
			{ProductID: "prod-widget", SKU: "WIDGET", Name: "Widget", Quantity: 2, PriceCents: 1999},
		},
	})
	data, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// benchOrdersDB creates and migrates an orders database for the relay
// benchmark alone; Stack.Close drops it.
func (s *Stack) benchOrdersDB(b *testing.B) *pg.DB {
	b.Helper()
	ctx := context.Background()
	name := s.dbNames[0] + "_relay"
	if err := s.admin(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	s.dbNames = append(s.dbNames, name)
	cfg := s.Config.Databases["orders"]
	cfg.URL = withDatabase(s.adminURL, name)
	reg, err := pg.Open(map[string]config.Database{"orders": cfg}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(reg.Close)
	db, err := reg.DB("orders")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := migrations.Up(ctx, "orders", db.Pool()); err != nil {
		b.Fatal(err)
	}
	return db
}
