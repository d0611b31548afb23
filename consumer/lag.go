package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Lag is where a consumer stands on its stream: what `fedsaga events
// consumers` prints and the worker exports as fedsaga_consumer_* metrics.
type Lag struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`             // the durable name
	Configured string `json:"configured,omitempty"` // the [nats.jetstream.consumers.NAME] it is
	Partition  *int   `json:"partition,omitempty"`  // its partition, when partitioned
	Missing    bool   `json:"missing,omitempty"`    // configured, but not on the server
	// Pending are the stream's messages matching the consumer's filter
	// and not delivered yet.
	Pending uint64 `json:"pending"`
	// AckPending are delivered and not acknowledged yet.
	AckPending int `json:"ack_pending"`
	// Redelivered are delivered more than once and not acknowledged yet.
	Redelivered int `json:"redelivered"`
	// Waiting are the pull requests waiting: the instances attached, roughly.
	Waiting int `json:"waiting"`
	// LastActive is the last delivery or acknowledgement; nil when none.
	LastActive *time.Time `json:"last_active,omitempty"`
}

func (l Lag) String() string {
	name := l.Consumer
	if l.Missing {
		return fmt.Sprintf("%-18s %-28s MISSING (configured as %s)", l.Stream, name, l.Configured)
	}
	last := "never"
	if l.LastActive != nil {
		last = l.LastActive.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%-18s %-28s %9d %11d %11d  %s", l.Stream, name, l.Pending, l.AckPending, l.Redelivered, last)
}

// LagHeader is the header line of Lag's String.
const LagHeader = "STREAM             CONSUMER                       PENDING  ACK_PENDING REDELIVERED  LAST_ACTIVE"

func lagOf(info *jetstream.ConsumerInfo) Lag {
	l := Lag{Stream: info.Stream, Consumer: info.Name, Pending: info.NumPending, AckPending: info.NumAckPending,
		Redelivered: info.NumRedelivered, Waiting: info.NumWaiting}
	for _, t := range []*time.Time{info.Delivered.Last, info.AckFloor.Last} {
		if t != nil && (l.LastActive == nil || t.After(*l.LastActive)) {
			l.LastActive = t
		}
	}
	return l
}

// Lags lists every consumer of the streams, and every consumer of specs
// missing from the server, by stream and name. A stream that does not
// exist has no consumers.
func Lags(ctx context.Context, js jetstream.JetStream, streams []string, specs []Spec) ([]Lag, error) {
	bySpec := map[[2]string]Spec{}
	for _, s := range specs {
		bySpec[[2]string{s.Stream, s.Config.Durable}] = s
		if !slices.Contains(streams, s.Stream) {
			streams = append(streams, s.Stream)
		}
	}
	var lags []Lag
	found := map[[2]string]bool{}
	for _, name := range streams {
		stream, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		list := stream.ListConsumers(ctx)
		for info := range list.Info() {
			l := lagOf(info)
			key := [2]string{l.Stream, l.Consumer}
			found[key] = true
			if s, ok := bySpec[key]; ok {
				l.Configured, l.Partition = s.Name, partition(s)
			}
			lags = append(lags, l)
		}
		if err := list.Err(); err != nil {
			return nil, fmt.Errorf("consumers of stream %s: %w", name, err)
		}
	}
	for _, s := range specs {
		if !found[[2]string{s.Stream, s.Config.Durable}] {
			lags = append(lags, Lag{Stream: s.Stream, Consumer: s.Config.Durable, Configured: s.Name, Partition: partition(s), Missing: true})
		}
	}
	slices.SortStableFunc(lags, func(a, b Lag) int {
		if a.Stream != b.Stream {
			return cmp.Compare(a.Stream, b.Stream)
		}
		return cmp.Compare(a.Consumer, b.Consumer)
	})
	return lags, nil
}

func partition(s Spec) *int {
	if s.Partition < 0 {
		return nil
	}
	p := s.Partition
	return &p
}

// Collector exports the lag of the configured consumers as Prometheus
// metrics, read from the server at every scrape:
// fedsaga_consumer_pending, fedsaga_consumer_ack_pending,
// fedsaga_consumer_redelivered, fedsaga_consumer_waiting,
// fedsaga_consumer_last_active_timestamp_seconds and
// fedsaga_consumer_present, labelled consumer (the configured name),
// durable, stream and partition ("" when not partitioned).
type Collector struct {
	js     jetstream.JetStream
	specs  []Spec
	logger zerolog.Logger

	pending, ackPending, redelivered, waiting, lastActive, present *prometheus.Desc
}

// NewCollector returns the Collector of specs (Specs of the configuration).
func NewCollector(js jetstream.JetStream, specs []Spec, logger zerolog.Logger) *Collector {
	labels := []string{"consumer", "durable", "stream", "partition"}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("fedsaga_consumer_"+name, help, labels, nil)
	}
	return &Collector{js: js, specs: specs, logger: logger,
		pending:     desc("pending", "Messages of the stream matching the consumer's filter and not delivered yet."),
		ackPending:  desc("ack_pending", "Messages delivered to the consumer and not acknowledged yet."),
		redelivered: desc("redelivered", "Messages delivered more than once and not acknowledged yet."),
		waiting:     desc("waiting", "Pull requests waiting on the consumer."),
		lastActive:  desc("last_active_timestamp_seconds", "Time of the consumer's last delivery or acknowledgement (Unix seconds); 0 when none."),
		present:     desc("present", "1 when the configured consumer exists on the server, 0 when it is missing."),
	}
}

// Describe sends the descriptions of the metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.ackPending, c.redelivered, c.waiting, c.lastActive, c.present} {
		ch <- d
	}
}

// ScrapeTimeout bounds the requests of one scrape.
const ScrapeTimeout = 5 * time.Second

// Collect reads every configured consumer's state from the server. A
// consumer that cannot be read (NATS down) is left out, with a log line.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	for _, s := range c.specs {
		p := ""
		if s.Partition >= 0 {
			p = strconv.Itoa(s.Partition)
		}
		labels := []string{s.Name, s.Config.Durable, s.Stream, p}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		cons, err := c.js.Consumer(ctx, s.Stream, s.Config.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			gauge(c.present, 0)
			continue
		}
		if err != nil {
			c.logger.Warn().Err(err).Str("stream", s.Stream).Str("consumer", s.Config.Durable).Msg("consumer metrics: cannot read the consumer")
			continue
		}
		l := lagOf(cons.CachedInfo())
		gauge(c.present, 1)
		gauge(c.pending, float64(l.Pending))
		gauge(c.ackPending, float64(l.AckPending))
		gauge(c.redelivered, float64(l.Redelivered))
		gauge(c.waiting, float64(l.Waiting))
		last := 0.0
		if l.LastActive != nil {
			last = float64(l.LastActive.UnixNano()) / 1e9
		}
		gauge(c.lastActive, last)
	}
}
