package test

// The burst benchmark: what the activity slots and the pool size do to a
// burst of sagas. Run it with
//
//	go test ./test -run '^$' -bench 'Burst' -benchtime 1x -count 1
//
// (BENCH=Burst BENCHTIME=1x COUNT=1 scripts/bench.sh does the same and
// writes bench-results/). Each op is one burst; sagas/s is per saga.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/config"
)

// burstSagas is the number of sagas of one burst, all started at once.
const burstSagas = 300

// burstPoolTimeout is the pool_timeout of the burst's workers: tighter than
// the default 5s, so that a pool too small for the slots shows as
// PoolExhaustedError within a burst a 2-core machine can run.
const burstPoolTimeout = time.Second

// BenchmarkBurst fires burstSagas confirmed order sagas at once at one
// fedsaga worker process with the saga mode, pool_size and the activity
// slots from the sub-benchmark's name (slots=0: the default, the pool
// size; in local mode the local activity slots), and reports sagas/s and pool-retries/op: the
// activity attempts that failed with PoolExhaustedError and were retried,
// counted from the worker's log, where the Temporal SDK writes one
// "Activity error." line per failed attempt of a regular activity (and the
// saga's compensations, which stay regular). A local activity's failed
// attempts are not logged by the SDK: in local mode, a forward step that
// ran out of retries would fail the saga, which the benchmark checks.
func BenchmarkBurst(b *testing.B) {
	s := stack
	workers := &benchWorkers{s: s}
	b.Cleanup(workers.stop)
	for _, c := range []struct {
		mode        string
		pool, slots int
	}{
		{config.ModeRegular, 10, 0}, {config.ModeRegular, 10, 40}, {config.ModeRegular, 10, 1000}, // the default pool: slots 1×, 4×, the SDK's default
		{config.ModeRegular, 2, 0}, {config.ModeRegular, 2, 1000}, // a small pool
		{config.ModeLocal, 2, 0}, {config.ModeLocal, 2, 1000}, // local activities: slots of their own
	} {
		b.Run(fmt.Sprintf("mode=%s/pool=%d/slots=%d", c.mode, c.pool, c.slots), func(b *testing.B) {
			set := workerSet{fedsaga: true, mode: c.mode, n: 1, pool: c.pool, slots: c.slots,
				poolTimeout: burstPoolTimeout, publishTimeout: 2 * time.Minute} // the default: a burst's events wait their turn
			queue := workers.use(b, set)
			one := s.sagaRunner(b, s.Temporal, kindHappy, set, queue, burstSagas)
			retriesBefore := poolRetries(b, workers.procs[0].log)
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				burst(b, one)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*burstSagas)/time.Since(start).Seconds(), "sagas/s")
			b.ReportMetric(float64(poolRetries(b, workers.procs[0].log)-retriesBefore)/float64(b.N), "pool-retries/op")
		})
	}
}

// burst runs burstSagas sagas at once and waits for all of them.
func burst(b *testing.B, one func(ctx context.Context, g int) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, burstSagas)
	for g := range burstSagas {
		wg.Go(func() { errs[g] = one(ctx, g) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// poolRetries counts the failed activity attempts of a worker's log whose
// error is a PoolExhaustedError.
func poolRetries(b *testing.B, log string) int {
	data, err := os.ReadFile(log)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for line := range bytes.Lines(data) {
		if bytes.Contains(line, []byte(`"Activity error."`)) && bytes.Contains(line, []byte("PoolExhaustedError")) {
			n++
		}
	}
	return n
}
