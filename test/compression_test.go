package test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

// TestGRPCCompressionNone: with temporal.grpc_compression = "none", a
// worker and a starter talk to the real server uncompressed, and an order
// runs to its confirmed, published outcome; a client that compresses (the
// stack's) reads the same saga.
func TestGRPCCompressionNone(t *testing.T) {
	s := stack
	c := s.uncompressedClient(t)
	queue := s.extraWorkerOn(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	p, customer := s.addProduct(t, 300, 5), s.addCustomer(t, 10_000)
	req := starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}
	h, err := starter.PlaceOrder(ctx, c, req, starter.TaskQueue(queue))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Result(ctx)
	if err != nil || out.Status != workflows.Confirmed || !out.EventPublished {
		t.Fatalf("outcome %+v, %v; want confirmed and published", out, err)
	}
	again, err := starter.Order(s.Temporal, req.OrderID).Result(ctx)
	if err != nil || again.Status != out.Status || again.EventID != out.EventID {
		t.Errorf("read through the compressing client: %+v, %v; want %+v", again, err, out)
	}
}

// uncompressedClient dials the stack's Temporal server as every fedsaga
// process does, with temporal.grpc_compression = "none"; it closes when tb
// ends.
func (s *Stack) uncompressedClient(tb testing.TB) client.Client {
	tb.Helper()
	cfg := *s.Config
	cfg.Temporal.GRPCCompression = config.CompressionNone
	c, err := worker.DialTemporal(context.Background(), &cfg, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}
