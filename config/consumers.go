package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fedsaga/fedsaga/events"
)

// Consumer is one durable consumer of the order events
// ([nats.jetstream.consumers.NAME]). Services run it with
// consumer.Configured, the CLI with `fedsaga events tail --consumer NAME`;
// the worker creates or updates it (manage_streams) and exports its lag.
type Consumer struct {
	Durable    string        `koanf:"durable"`     // the JetStream durable name. Default "": NAME.
	EventTypes []string      `koanf:"event_types"` // order.confirmed, order.cancelled. Default []: every type.
	AckWait    time.Duration `koanf:"ack_wait"`    // how long one delivery may take before it is redelivered. Default 30s.
	// MaxDeliveries is how many times a message is delivered before it
	// goes to the dead-letter stream. Default 5.
	MaxDeliveries int `koanf:"max_deliveries"`
	// BackOff is the server's redelivery schedule (JetStream BackOff): the
	// wait before the 2nd, 3rd, ... delivery, the last value repeating; at
	// most max_deliveries values; its first value replaces ack_wait.
	// Default []: ack_wait, and a failed handler's message is redelivered
	// after one second per delivery, at most 30.
	BackOff []time.Duration `koanf:"backoff"`
	// MaxAckPending caps the messages delivered and not yet acknowledged.
	// Default 0: JetStream's default (1000), or 1 for a partitioned
	// consumer, which must not take more.
	MaxAckPending int `koanf:"max_ack_pending"`
	// DeliverPolicy is where a new consumer starts: all, new, last or
	// last_per_subject. Default "all".
	DeliverPolicy string `koanf:"deliver_policy"`
	// Partitioned reads the partition copies ([nats.partitions]) through
	// one durable per partition ("<durable>-p<N>"), each with one message
	// pending at a time: one order's events are handled strictly in order,
	// by any number of instances. Default false.
	Partitioned bool `koanf:"partitioned"`
}

// DefaultConsumer returns the defaults of every consumer, whatever its
// name.
func DefaultConsumer() Consumer {
	return Consumer{EventTypes: []string{}, AckWait: 30 * time.Second, MaxDeliveries: 5, DeliverPolicy: "all"}
}

// Deliver policies of a consumer.
var DeliverPolicies = []string{"all", "new", "last", "last_per_subject"}

// Partitions addresses every order event by a partition number as well
// ([nats.partitions]): with Count > 0 the publishers (the saga's publish
// step and the outbox relay) also store each event on
// fedsaga.partition.<N>.<order id>.<type> in the stream
// ORDERS_PARTITIONS, N = events.Partition(order id, Count). The subjects
// of ORDERS stay as they are.
type Partitions struct {
	Count int `koanf:"count"` // 0 (off) to MaxPartitions. Default 0.
}

// PartitionsStream is the stream of the partition copies; unless
// configured, it is ORDERS's configuration with the subjects
// ["fedsaga.partition.>"].
const PartitionsStream = "ORDERS_PARTITIONS"

// MaxPartitions is the largest nats.partitions.count.
const MaxPartitions = 1024

// derivePartitionStream adds the stream of the partition copies when
// partitions are on and it is not configured.
func (c *Config) derivePartitionStream() {
	js := &c.NATS.JetStream
	orders, ok := js.Streams[OrdersStream]
	if _, has := js.Streams[PartitionsStream]; c.NATS.Partitions.Count <= 0 || has || !ok {
		return
	}
	orders.Subjects = []string{events.PartitionPrefix + ">"}
	js.Streams[PartitionsStream] = orders
	// The partitioned consumers' dead letters reach ORDERS_DLQ the same way
	// as the others': their max-deliveries advisories are stored too.
	if adv, ok := js.Streams[AdvisoryStream]; ok {
		subject := MaxDeliveriesSubject(PartitionsStream, ">")
		if !slices.Contains(adv.Subjects, subject) {
			adv.Subjects = append(slices.Clone(adv.Subjects), subject)
			js.Streams[AdvisoryStream] = adv
		}
	}
}

// DurableName is the JetStream durable name of the consumer configured as
// name.
func (c Consumer) DurableName(name string) string {
	if c.Durable != "" {
		return c.Durable
	}
	return name
}

func (v *validator) consumers(n NATS) {
	p := n.Partitions.Count
	v.want(p >= 0 && p <= MaxPartitions, "nats.partitions.count", "must be from 0 (off) to %d, got %d", MaxPartitions, p)
	if s, ok := n.JetStream.Streams[PartitionsStream]; ok && p > 0 {
		want := []string{events.PartitionPrefix + ">"}
		v.want(slices.Equal(s.Subjects, want), "nats.jetstream.streams."+PartitionsStream+".subjects",
			"must be %q: the partition copies of the order events", want)
	}
	durables := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(n.JetStream.Consumers)) {
		c, key := n.JetStream.Consumers[name], "nats.jetstream.consumers."+name
		for _, f := range []struct{ key, value string }{{key, name}, {key + ".durable", c.Durable}} {
			v.want(!strings.ContainsAny(f.value, " \t\r\n.*>/\\"), f.key,
				"invalid durable name %q; it must not hold spaces, \".\", \"*\", \">\", \"/\" or \"\\\"", f.value)
		}
		durable := c.DurableName(name)
		if other, dup := durables[durable]; dup {
			v.want(false, key+".durable", "durable name %q is also the durable of nats.jetstream.consumers.%s", durable, other)
		}
		durables[durable] = name
		for i, t := range c.EventTypes {
			err := events.CheckType(t)
			v.want(err == nil, fmt.Sprintf("%s.event_types[%d]", key, i), "%v", err)
		}
		v.positive(key+".ack_wait", c.AckWait)
		v.want(c.MaxDeliveries >= 1, key+".max_deliveries", "must be at least 1, got %d", c.MaxDeliveries)
		for i, d := range c.BackOff {
			v.want(d > 0, fmt.Sprintf("%s.backoff[%d]", key, i), "must be more than 0s, got %s", d)
		}
		v.want(len(c.BackOff) <= c.MaxDeliveries, key+".backoff",
			"has %d values, more than max_deliveries (%d): JetStream refuses that", len(c.BackOff), c.MaxDeliveries)
		v.want(c.MaxAckPending >= 0, key+".max_ack_pending", "must be at least 1, or 0 for the default, got %d", c.MaxAckPending)
		v.want(!c.Partitioned || c.MaxAckPending <= 1, key+".max_ack_pending",
			"must be 1 (or 0) for a partitioned consumer: one message of a partition at a time keeps each order's events in order, got %d", c.MaxAckPending)
		v.oneOf(key+".deliver_policy", c.DeliverPolicy, DeliverPolicies...)
		v.want(!c.Partitioned || p > 0, key+".partitioned", "needs partitions: set [nats.partitions] count")
	}
}
