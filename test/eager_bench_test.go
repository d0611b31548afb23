package test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/worker"
)

// BenchmarkEager measures eager workflow start (starter.Eager) for a
// service that embeds the worker: a fedsaga worker runs in this process
// (worker.New, as `fedsaga worker` wires it) and the starters start their
// sagas through its client, with and without eager start; the server
// enables it (system.enableEagerWorkflowStart). The worker's CPU counts
// in the bench column here.
func BenchmarkEager(b *testing.B) {
	s := stack
	for _, mode := range []string{config.ModeLocal, config.ModeRegular} {
		b.Run("mode="+mode, func(b *testing.B) {
			w, queue := s.embeddedWorker(b, mode)
			for _, eager := range []bool{false, true} {
				for _, conc := range []int{1, saturation} {
					b.Run(fmt.Sprintf("eager=%v/conc=%d", eager, conc), func(b *testing.B) {
						var opts []starter.Option
						if eager {
							opts = append(opts, starter.Eager())
						}
						one := s.sagaRunner(b, w.Client(), kindHappy, workerSet{mode: mode, publishTimeout: 2 * time.Minute}, queue, conc, opts...)
						s.runSagas(b, conc, nil, one)
					})
				}
			}
		})
	}
}

// embeddedWorker runs a fedsaga worker in this process, on a task queue of
// its own with the saga mode, until the benchmark ends.
func (s *Stack) embeddedWorker(b *testing.B, mode string) (*worker.Worker, string) {
	b.Helper()
	cfg := *s.Config
	cfg.Temporal.TaskQueue = benchID("queue")
	cfg.Saga.Mode = mode
	cfg.Observers = nil
	cfg.Events.PublishTimeout = 2 * time.Minute // the default, as in BenchmarkSaga
	cfg.Saga.CompensationTimeout = 10 * time.Minute
	// Small pools: max_connections is shared with the stack and the
	// Temporal server's persistence.
	cfg.Databases = maps.Clone(cfg.Databases)
	for name, db := range cfg.Databases {
		db.PoolSize = 4
		cfg.Databases[name] = db
	}
	cfg.Worker.MaxConcurrentActivities, cfg.Worker.MaxConcurrentLocalActivities = 4, 4
	w, err := worker.New(context.Background(), &cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	b.Cleanup(func() {
		stop()
		<-done
		w.Close()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + w.HTTPAddress() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w, cfg.Temporal.TaskQueue
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("embedded worker not ready after 30s")
		}
	}
}
