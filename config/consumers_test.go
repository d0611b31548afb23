package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadConsumers(t *testing.T) {
	isolate(t)
	t.Setenv("FEDSAGA_NATS__JETSTREAM__CONSUMERS__AUDIT__BACKOFF", "1s, 5s")
	cfg, err := Load(writeConfig(t, minimal+`
[nats.partitions]
count = 4
[nats.jetstream.consumers.billing]
durable = "billing-v2"
event_types = ["order.confirmed"]
ack_wait = "10s"
max_deliveries = 3
backoff = ["1s", "10s"]
max_ack_pending = 1
deliver_policy = "new"
partitioned = true
[nats.jetstream.consumers.audit]
max_deliveries = 4
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Consumer{Durable: "billing-v2", EventTypes: []string{"order.confirmed"}, AckWait: 10 * time.Second, MaxDeliveries: 3,
		BackOff: []time.Duration{time.Second, 10 * time.Second}, MaxAckPending: 1, DeliverPolicy: "new", Partitioned: true}
	if got := cfg.NATS.JetStream.Consumers["billing"]; !reflect.DeepEqual(got, want) {
		t.Errorf("billing = %+v\nwant %+v", got, want)
	}
	audit := DefaultConsumer()
	audit.MaxDeliveries, audit.BackOff = 4, []time.Duration{time.Second, 5 * time.Second}
	if got := cfg.NATS.JetStream.Consumers["audit"]; !reflect.DeepEqual(got, audit) {
		t.Errorf("audit (defaults, backoff from the environment) = %+v\nwant %+v", got, audit)
	}
	ps, ok := cfg.NATS.JetStream.Streams[PartitionsStream]
	if !ok || !slices.Equal(ps.Subjects, []string{"fedsaga.partition.>"}) || ps.DuplicateWindow != 2*time.Minute {
		t.Errorf("partition stream = %+v, %v; want ORDERS's settings on fedsaga.partition.>", ps, ok)
	}
	wantAdvisories := []string{MaxDeliveriesSubject(OrdersStream, ">"), MaxDeliveriesSubject(PartitionsStream, ">")}
	if got := cfg.NATS.JetStream.Streams[AdvisoryStream].Subjects; !slices.Equal(got, wantAdvisories) {
		t.Errorf("advisory stream subjects = %q, want %q: the partitioned consumers' dead letters too", got, wantAdvisories)
	}
}

func TestLoadConsumerErrors(t *testing.T) {
	isolate(t)
	_, err := Load(writeConfig(t, minimal+`
[nats.partitions]
count = 2000
[nats.jetstream.consumers."bad.name"]
[nats.jetstream.consumers.a]
event_types = ["order.shipped"]
ack_wait = "0s"
max_deliveries = 2
backoff = ["1s", "2s", "3s"]
deliver_policy = "first"
partitioned = true
max_ack_pending = 5
[nats.jetstream.consumers.b]
durable = "a"
ack_wait = 30
`))
	got := strings.Join(errorList(err), "\n")
	for _, w := range []string{
		"nats.partitions.count: must be from 0 (off) to 1024, got 2000",
		`nats.jetstream.consumers.bad.name: invalid durable name "bad.name"`,
		`nats.jetstream.consumers.a.event_types[0]: event type "order.shipped": want order.confirmed or order.cancelled`,
		"nats.jetstream.consumers.a.ack_wait: must be more than 0s",
		"nats.jetstream.consumers.a.backoff: has 3 values, more than max_deliveries (2)",
		"nats.jetstream.consumers.a.max_ack_pending: must be 1 (or 0) for a partitioned consumer",
		`nats.jetstream.consumers.a.deliver_policy: "first" is not one of all, new, last, last_per_subject`,
		"nats.jetstream.consumers.b.ack_wait: expected a duration",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("errors do not say %q:\n%s", w, got)
		}
	}
	_, err = Load(writeConfig(t, minimal+"[nats.jetstream.consumers.a]\npartitioned = true\n[nats.jetstream.consumers.b]\ndurable = \"a\"\n"))
	got = strings.Join(errorList(err), "\n")
	for _, w := range []string{
		"nats.jetstream.consumers.a.partitioned: needs partitions: set [nats.partitions] count",
		`nats.jetstream.consumers.b.durable: durable name "a" is also the durable of nats.jetstream.consumers.a`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("errors do not say %q:\n%s", w, got)
		}
	}
}
