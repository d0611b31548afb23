package events_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
)

// TestPartitionMatchesServerMapping: events.Partition puts every order in
// the partition that a NATS 2.10+ server's subject mapping
// partition(n, <order id token>) computes, so the same orders land in the
// same partitions whichever computes it.
func TestPartitionMatchesServerMapping(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Start(t))
	ctx := context.Background()
	const n = 7
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "MAPPED", Subjects: []string{events.SubjectPrefix + ">"},
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source:      events.SubjectPrefix + "*.*",
			Destination: fmt.Sprintf("mapped.{{partition(%d,1)}}.{{wildcard(1)}}.{{wildcard(2)}}", n),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	const orders = 200
	for i := range orders {
		if _, err := js.Publish(ctx, events.Subject(fmt.Sprintf("ord-%d", i), events.TypeConfirmed), nil); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	for seq := uint64(1); seq <= orders; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		tokens := strings.Split(msg.Subject, ".") // mapped.<partition>.<order id>.confirmed
		p := events.Partition(tokens[2], n)
		if tokens[1] != fmt.Sprint(p) {
			t.Errorf("order %s: the server maps it to partition %s, events.Partition says %d", tokens[2], tokens[1], p)
		}
		want := events.PartitionSubject(tokens[2], events.TypeConfirmed, n)
		if got, err := events.PartitionSubjectOf(events.Subject(tokens[2], events.TypeConfirmed), n); got != want || err != nil {
			t.Errorf("PartitionSubjectOf = %q, %v; want %q", got, err, want)
		}
		seen[p] = true
	}
	if len(seen) != n {
		t.Errorf("%d orders fell in %d of %d partitions", orders, len(seen), n)
	}
	for _, bad := range []string{"fedsaga.order.x", "other.x.confirmed", "fedsaga.order..confirmed", "fedsaga.order.x.a.b"} {
		if _, err := events.PartitionSubjectOf(bad, n); err == nil {
			t.Errorf("PartitionSubjectOf(%q): no error", bad)
		}
	}
}
