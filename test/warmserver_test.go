package test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedsaga/fedsaga/config"
)

// A Temporal server is cheaper per workflow until its history service has
// checkpointed its transfer queue for the first time (every 30 s ± 15 %:
// history.transferProcessorUpdateAckInterval). At a checkpoint the queue's
// slice narrows its predicate to the namespaces of its pending tasks
// (queues.(*SliceImpl).shrinkPredicate); from then on a new range of tasks
// no longer merges with it by range but by splitting the slice's tracked
// tasks, one pass over all of them (queues.(*executableTracker).split: 8 %
// of the machine's CPU in a perf profile of the regular saga at conc 32,
// none in the floor's on a fresh server). The server stays in that state.
// Measured in one process, regular mode, one worker, 256 sagas each, the
// floor three times then the saga three times: without a warm-up the first
// floor ran 15.5 sagas/s at 93 ms of server CPU per saga and the two after
// it 12.8 and 13.3 at 113 and 114 ms (the saga 10.5, 12.8 and 10.4); with
// it the floors ran 12.7, 11.2 and 12.5 (117 to 144 ms) and the saga 10.9,
// 10.9 and 9.7. BenchmarkSaga runs the regular floor first on each fresh
// stack, so without a warm-up it compared a floor measured on a young
// server with sagas measured on an older, costlier one.
const (
	// warmConc is how many floor workflows the warm-up keeps running.
	warmConc = 8
	// warmTimeout bounds the warm-up: two checkpoint intervals and more.
	warmTimeout = 3 * time.Minute
	// warmSettle is the pause after the warm-up: longer than the floor's
	// timeouts (its workflow task's default 10 s, its activities' 10 s
	// start-to-close), whose timer tasks the server runs even for tasks
	// that completed.
	warmSettle = 12 * time.Second
)

// warmServer runs the floor on the stack's Temporal server until its
// transfer queue has checkpointed once (the first call of a run; the
// others wait for it or return at once). Saga benchmarks call it through
// benchWorkers.use before they start their workers.
func (s *Stack) warmServer(b *testing.B) {
	b.Helper()
	s.warm.once.Do(func() {
		// Set first: if warmUp stops the benchmark (b.Fatal), Do still
		// counts as done, and the benchmarks after it must not run on a
		// server that did not warm.
		s.warm.err = fmt.Errorf("the warm-up stopped in %s", b.Name())
		s.warm.err = s.warmUp(b)
	})
	if s.warm.err != nil {
		b.Fatalf("warm the Temporal server: %v", s.warm.err)
	}
}

// serverWarmth is whether a stack's Temporal server is warm (warmServer).
type serverWarmth struct {
	once sync.Once
	err  error
}

// transferCheckpoints is how many times the server's history service has
// checkpointed its transfer queue: the sample count of pending_tasks, which
// it records at each checkpoint.
func (s *Stack) transferCheckpoints(b *testing.B) float64 {
	v, _ := scrapeMetrics(b, s.serverMetrics).value("pending_tasks", map[string]string{"operation": "TransferQueueProcessor"})
	return v
}

func (s *Stack) warmUp(b *testing.B) error {
	if s.serverMetrics == "" {
		return fmt.Errorf("the stack's Temporal server has no metrics endpoint to tell when it is warm")
	}
	workers := &benchWorkers{s: s, noProfile: true}
	defer workers.stop()
	set := workerSet{mode: config.ModeRegular, n: 1}
	queue := workers.start(b, set)
	run := s.sagaRunner(b, s.Temporal, kindFloor, set, queue, warmConc)

	ctx, cancel := context.WithTimeout(context.Background(), warmTimeout)
	defer cancel()
	began := time.Now()
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	stop := make(chan struct{})
	for i := range warmConc {
		g.Go(func() error {
			for {
				select {
				case <-stop:
					return nil
				default:
				}
				if err := run(gctx, i); err != nil {
					return err
				}
				done.Add(1)
			}
		})
	}
	// The metrics are read here, on the benchmark's goroutine: scrapeMetrics
	// fails the benchmark when the server does not answer.
	err := func() error {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-gctx.Done():
				return fmt.Errorf("no checkpoint of the transfer queue (pending_tasks{operation=\"TransferQueueProcessor\"} at %s) in %s: %w", s.serverMetrics, warmTimeout, context.Cause(gctx))
			case <-tick.C:
				if s.transferCheckpoints(b) > 0 {
					return nil
				}
			}
		}
	}()
	close(stop) // the starters stop after their saga
	if werr := g.Wait(); werr != nil {
		return werr // a starter's error, which cancelled gctx
	}
	if err != nil {
		return err
	}
	// The warm-up's timers (workflow task and activity timeouts, due 10 s
	// after their tasks) fire now rather than in the first measurement.
	time.Sleep(warmSettle)
	b.Logf("Temporal server warm: its transfer queue checkpointed after %s and %d floor workflows", time.Since(began).Round(time.Second), done.Load())
	return nil
}
