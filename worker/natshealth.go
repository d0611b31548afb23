package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
)

// States of a stream or consumer in a Check.
const (
	StatePresent   = "present"   // exists and matches its configuration
	StateMissing   = "missing"   // does not exist
	StateDifferent = "different" // exists, and differs from its configuration
)

// NATSChecks connects to NATS, checks that JetStream is available, then
// compares every configured stream and consumer (one per partition of a
// partitioned one) with the server: a Check for NATS, then one per
// stream ("stream NAME") and consumer ("consumer DURABLE"), each with its
// State. A missing or different stream or consumer is down only when
// fedsaga may not fix it (nats.jetstream.manage_streams false); otherwise
// the worker creates or updates it at start-up, and the check says so.
func NATSChecks(ctx context.Context, cfg *config.Config, logger zerolog.Logger) []Check {
	url := config.RedactURL(cfg.NATS.URL)
	down := func(err error) []Check { return []Check{{Name: "nats", Error: err.Error()}} }
	nc, err := ConnectNATS(cfg.NATS, logger)
	if err != nil {
		return down(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return down(fmt.Errorf("nats: jetstream: %w", err))
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return down(fmt.Errorf("nats: jetstream not available at %s: %w", url, err))
	}
	checks := []Check{{Name: "nats", OK: true, Detail: url + " (jetstream)"}}
	manage := cfg.NATS.JetStream.ManageStreams
	for _, name := range slices.Sorted(maps.Keys(cfg.NATS.JetStream.Streams)) {
		key := "nats.jetstream.streams." + name
		c := Check{Name: "stream " + name}
		info, err := js.Stream(ctx, name)
		diff := ""
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			c.State, c.Error = StateMissing, (&StreamNotFoundError{Stream: name}).Error()
		case err != nil:
			c.Error = fmt.Sprintf("%s: %v", key, err)
		default:
			diff = streamDiff(info.CachedInfo().Config, StreamConfig(name, cfg.NATS.JetStream.Streams[name]))
			c.State, c.Detail = StatePresent, "present, as "+key+" says"
			if diff != "" {
				c.State, c.Detail, c.Error = StateDifferent, "", (&StreamNotFoundError{Stream: name, Diff: diff}).Error()
			}
		}
		checks = append(checks, fixable(c, manage, diff))
	}
	for _, s := range consumer.Specs(cfg) {
		c := Check{Name: "consumer " + s.Config.Durable}
		st, err := consumer.Check(ctx, js, s)
		nf := &consumer.NotFoundError{Stream: s.Stream, Durable: s.Config.Durable, Key: s.Key, Diff: st.Diff}
		switch {
		case err != nil:
			c.Error = err.Error()
		case st.Missing:
			c.State, c.Error = StateMissing, nf.Error()
		case st.Diff != "":
			c.State, c.Error = StateDifferent, nf.Error()
		default:
			c.State, c.Detail = StatePresent, fmt.Sprintf("present on stream %s, as %s says", s.Stream, s.Key)
		}
		checks = append(checks, fixable(c, manage, st.Diff))
	}
	return checks
}

// fixable sets OK: a present stream or consumer is OK, and a missing or
// different one is OK when the worker may fix it (manage), with a detail
// that says what it will do.
func fixable(c Check, manage bool, diff string) Check {
	switch {
	case c.State == StatePresent:
		c.OK = true
	case c.State == StateMissing && manage:
		c.OK, c.Detail, c.Error = true, "missing; the worker creates it at start-up (manage_streams = true)", ""
	case c.State == StateDifferent && manage:
		c.OK, c.Detail, c.Error = true, "different; the worker updates it at start-up (manage_streams = true): "+diff, ""
	}
	return c
}
