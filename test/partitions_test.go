package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
)

// TestPartitionCopyAndConsumerMetrics: with [nats.partitions], an order
// saga's event is also stored on its partition's subject in
// ORDERS_PARTITIONS, with the event id as Nats-Msg-Id, and the worker's
// /metrics carries the lag of the configured consumer's partitions.
func TestPartitionCopyAndConsumerMetrics(t *testing.T) {
	s := stack
	ctx := context.Background()
	p := s.addProduct(t, 100, 10)
	orderID := uniq(t, "ord")
	s.place(t, starter.Request{OrderID: orderID, CustomerID: s.addCustomer(t, 10_000), Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}})

	stream, err := s.JetStream.Stream(ctx, config.PartitionsStream)
	if err != nil {
		t.Fatal(err)
	}
	n := s.Config.NATS.Partitions.Count
	subject := events.PartitionSubject(orderID, events.TypeConfirmed, n)
	var msg *jetstream.RawStreamMsg
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if msg, err = stream.GetLastMsgForSubject(ctx, subject); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not in %s after 30s: %v", subject, config.PartitionsStream, err)
		}
	}
	if id := msg.Header.Get(jetstream.MsgIDHeader); id != events.ID(orderID, events.TypeConfirmed) {
		t.Errorf("partition copy's Nats-Msg-Id %q, want the event id", id)
	}

	resp, err := http.Get("http://" + s.worker.HTTPAddress() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	part := events.Partition(orderID, n)
	series := fmt.Sprintf(`fedsaga_consumer_pending{consumer="stack-audit",durable="%s",partition="%d",stream="%s"} `,
		consumer.PartitionDurable("stack-audit", part), part, config.PartitionsStream)
	i := strings.Index(string(body), series)
	if i < 0 {
		t.Fatalf("/metrics lacks %s", series)
	}
	if v := strings.Fields(string(body)[i+len(series):])[0]; v == "0" {
		t.Errorf("%s%s; want at least this order's event pending", series, v)
	}
}
