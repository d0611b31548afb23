package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
)

// Check is the outcome of checking one dependency of a worker.
type Check struct {
	Name   string `json:"name"` // a configured database, "temporal" or "nats"
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"` // where it was reached, and how
	Error  string `json:"error,omitempty"`  // why it is down
	// State is how a stream or consumer compares with its configuration:
	// StatePresent, StateMissing or StateDifferent; "" for the others.
	State string `json:"state,omitempty"`
}

// String is the check as `fedsaga health` prints it.
func (c Check) String() string {
	if c.OK {
		return fmt.Sprintf("ok    %-10s %s", c.Name, c.Detail)
	}
	return fmt.Sprintf("DOWN  %-10s %s", c.Name, c.Error)
}

// Health checks what a worker needs: the configured databases (each
// database's own check, concurrently), Temporal and NATS with its streams.
// With databases named, it checks those databases only. An error is
// returned only when nothing could be checked; a dependency that is down
// is a Check that is not OK.
func Health(ctx context.Context, cfg *config.Config, logger zerolog.Logger, databases ...string) ([]Check, error) {
	dbs, err := pg.Open(cfg.Databases, logger)
	if err != nil {
		return nil, err
	}
	defer dbs.Close()
	statuses, err := dbs.Health(ctx, databases...)
	if err != nil {
		return nil, err
	}
	var checks []Check
	add := func(name, detail string, err error) {
		c := Check{Name: name, OK: err == nil, Detail: detail}
		if err != nil {
			c.Detail, c.Error = "", err.Error()
		}
		checks = append(checks, c)
	}
	for _, s := range statuses {
		add(s.Database, fmt.Sprintf("%s (%s)", s.URL, s.Latency.Round(time.Microsecond)), s.Err)
	}
	if len(databases) == 0 {
		add("temporal", cfg.Temporal.Address, CheckTemporal(ctx, cfg, logger))
		checks = append(checks, NATSChecks(ctx, cfg, logger)...)
	}
	return checks, nil
}
