package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
)

// Configured returns the Options of the consumer configured as
// [nats.jetstream.consumers.NAME], for New:
//
//	opts, err := consumer.Configured(cfg, "billing")
//	c, err := consumer.New(ctx, js, opts)
//
// With nats.jetstream.manage_streams false, New does not create or update
// the consumer: a missing or different one is a *NotFoundError.
func Configured(cfg *config.Config, name string) (Options, error) {
	c, ok := cfg.NATS.JetStream.Consumers[name]
	if !ok {
		names := slices.Sorted(maps.Keys(cfg.NATS.JetStream.Consumers))
		if len(names) == 0 {
			names = []string{"none"}
		}
		return Options{}, fmt.Errorf("nats.jetstream.consumers.%s: not configured; configured consumers: %s", name, strings.Join(names, ", "))
	}
	opts := Options{
		Stream:        config.OrdersStream,
		Durable:       c.DurableName(name),
		Types:         c.EventTypes,
		MaxDeliver:    c.MaxDeliveries,
		AckWait:       c.AckWait,
		BackOff:       c.BackOff,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: c.DeliverPolicy,
		CheckOnly:     !cfg.NATS.JetStream.ManageStreams,
		ManageStreams: cfg.NATS.JetStream.ManageStreams,
		Key:           "nats.jetstream.consumers." + name,
	}
	if c.Partitioned {
		opts.PartitionCount = cfg.NATS.Partitions.Count
	}
	return opts, nil
}

// Spec is one JetStream consumer fedsaga expects on a stream: a configured
// consumer, or one partition of a partitioned one.
type Spec struct {
	Name      string // the configured consumer's name
	Key       string // its configuration key; "" for a consumer from Options
	Partition int    // its partition; -1 when not partitioned
	Stream    string
	Config    jetstream.ConsumerConfig
}

// Specs lists the JetStream consumers of every configured consumer, one
// per partition of the partitioned ones, in name and partition order.
func Specs(cfg *config.Config) []Spec {
	var specs []Spec
	for _, name := range slices.Sorted(maps.Keys(cfg.NATS.JetStream.Consumers)) {
		opts, _ := Configured(cfg, name)
		specs = append(specs, opts.specs(name)...)
	}
	return specs
}

// specs are the JetStream consumers of o (defaults applied): one, or one
// per partition o consumes.
func (o Options) specs(name string) []Spec {
	cc := jetstream.ConsumerConfig{
		Durable:       o.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxDeliver:    o.MaxDeliver,
		AckWait:       o.AckWait,
		BackOff:       o.BackOff,
		MaxAckPending: o.MaxAckPending,
		DeliverPolicy: deliverPolicy(o.DeliverPolicy),
	}
	if len(o.BackOff) > 0 {
		cc.AckWait = o.BackOff[0] // as the server sets it
	}
	if o.PartitionCount <= 0 {
		if len(o.Types) > 0 { // no types: no filter, as consumers before the configured ones
			cc.FilterSubject, cc.FilterSubjects = filters(events.SubjectPrefix+"*.", o.Types)
		}
		return []Spec{{Name: name, Key: o.Key, Partition: -1, Stream: o.Stream, Config: cc}}
	}
	if cc.MaxAckPending == 0 {
		cc.MaxAckPending = 1
	}
	specs := make([]Spec, 0, o.PartitionCount)
	for _, p := range o.partitions() {
		pc := cc
		pc.Durable = PartitionDurable(o.Durable, p)
		pc.FilterSubject, pc.FilterSubjects = filters(events.PartitionFilter(p)+"*.", o.Types)
		specs = append(specs, Spec{Name: name, Key: o.Key, Partition: p, Stream: config.PartitionsStream, Config: pc})
	}
	return specs
}

// filters is the filter of a consumer of the event types among the
// subjects that start with prefix (one token, the order id, before the
// type): one FilterSubject, which servers before 2.10 also take, or several.
func filters(prefix string, types []string) (string, []string) {
	switch len(types) {
	case 0:
		return strings.TrimSuffix(prefix, "*.") + ">", nil
	case 1:
		return prefix + strings.TrimPrefix(types[0], "order."), nil
	}
	subjects := make([]string, len(types))
	for i, t := range types {
		subjects[i] = prefix + strings.TrimPrefix(t, "order.")
	}
	return "", subjects
}

func deliverPolicy(p string) jetstream.DeliverPolicy {
	switch p {
	case "new":
		return jetstream.DeliverNewPolicy
	case "last":
		return jetstream.DeliverLastPolicy
	case "last_per_subject":
		return jetstream.DeliverLastPerSubjectPolicy
	}
	return jetstream.DeliverAllPolicy
}

// NotFoundError is a consumer that is missing, or differs from its
// configuration, while fedsaga may not create or update it
// (nats.jetstream.manage_streams is false).
type NotFoundError struct {
	Stream  string
	Durable string
	Key     string // the configuration key, "" for a consumer from Options
	Diff    string // empty when the consumer is missing
}

func (e *NotFoundError) Error() string {
	what := "consumer.Options"
	if e.Key != "" {
		what = e.Key
	}
	if e.Diff == "" {
		return fmt.Sprintf("ConsumerNotFoundError: consumer %s does not exist on stream %s and nats.jetstream.manage_streams is false: create it as %s says, or set manage_streams = true",
			e.Durable, e.Stream, what)
	}
	return fmt.Sprintf("ConsumerNotFoundError: consumer %s on stream %s differs from %s (%s) and nats.jetstream.manage_streams is false: update it, or set manage_streams = true",
		e.Durable, e.Stream, what, e.Diff)
}

// State is how a consumer on the server compares with its Spec.
type State struct {
	Missing bool
	Diff    string // the fields that differ, "" when they match
}

// Check compares the consumer on the server with s.
func Check(ctx context.Context, js jetstream.JetStream, s Spec) (State, error) {
	c, err := js.Consumer(ctx, s.Stream, s.Config.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return State{Missing: true}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("consumer %s on stream %s: %w", s.Config.Durable, s.Stream, err)
	}
	return State{Diff: Diff(c.CachedInfo().Config, s.Config)}, nil
}

// Ensure makes the consumers of specs exist as configured: with manage
// (nats.jetstream.manage_streams) it creates the missing ones and updates
// those that differ; otherwise each missing or different one is a
// *NotFoundError naming the fields.
func Ensure(ctx context.Context, js jetstream.JetStream, specs []Spec, manage bool, logger zerolog.Logger) ([]jetstream.Consumer, error) {
	var errs []error
	var out []jetstream.Consumer
	for _, s := range specs {
		c, err := ensure(ctx, js, s, manage, logger)
		if err != nil {
			if s.Key != "" {
				err = fmt.Errorf("%s: %w", s.Key, err)
			}
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func ensure(ctx context.Context, js jetstream.JetStream, s Spec, manage bool, logger zerolog.Logger) (jetstream.Consumer, error) {
	st, err := Check(ctx, js, s)
	switch {
	case err != nil:
		return nil, err
	case !manage && (st.Missing || st.Diff != ""):
		return nil, &NotFoundError{Stream: s.Stream, Durable: s.Config.Durable, Key: s.Key, Diff: st.Diff}
	case !st.Missing && st.Diff == "":
		return js.Consumer(ctx, s.Stream, s.Config.Durable)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, s.Stream, s.Config)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on stream %s: %w", s.Config.Durable, s.Stream, err)
	}
	if st.Missing {
		logger.Info().Str("stream", s.Stream).Str("consumer", s.Config.Durable).Msg("consumer created")
	} else {
		logger.Info().Str("stream", s.Stream).Str("consumer", s.Config.Durable).Str("changed", st.Diff).Msg("consumer updated from configuration")
	}
	return c, nil
}

// Diff names the fields where the server's consumer differs from the
// configuration, with the configuration keys' names; "" when they agree.
func Diff(have, want jetstream.ConsumerConfig) string {
	var d []string
	add := func(field string, h, w any) {
		if fmt.Sprint(h) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s is %v, configured %v", field, h, w))
		}
	}
	wantMaxAck := want.MaxAckPending
	if wantMaxAck == 0 {
		wantMaxAck = have.MaxAckPending // the server's default
		if wantMaxAck == 0 {
			wantMaxAck = 1000
		}
	}
	add("filter_subjects", filterList(have), filterList(want))
	add("ack_policy", have.AckPolicy, want.AckPolicy)
	add("ack_wait", have.AckWait, want.AckWait)
	add("max_deliveries", have.MaxDeliver, want.MaxDeliver)
	add("backoff", durations(have.BackOff), durations(want.BackOff))
	add("max_ack_pending", have.MaxAckPending, wantMaxAck)
	add("deliver_policy", have.DeliverPolicy, want.DeliverPolicy)
	return strings.Join(d, "; ")
}

func filterList(c jetstream.ConsumerConfig) []string {
	var l []string
	if c.FilterSubject != "" {
		l = append(l, c.FilterSubject)
	}
	return append(l, c.FilterSubjects...)
}

func durations(ds []time.Duration) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return s
}
