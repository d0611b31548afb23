package test

import (
	"context"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/config"
)

// BenchmarkSagaPaired measures the p50 target's two sides alternately: one
// floor saga, then one order saga (the next pair the other way round), at
// conc 1, on the same server, one worker process each. BenchmarkSaga
// measures the floor first and the saga after it, so a change of the
// machine's or the server's pace between the two (the server holds more
// workflows, another process wakes up) counts in their ratio; here it
// weighs on both alike. Both worker sets run throughout: the one not in
// use only long-polls. One op is one pair; p50-ms is the order saga's,
// floor-p50-ms the floor's, p50-ratio the one ÷ the other.
func BenchmarkSagaPaired(b *testing.B) {
	s := stack
	floorWorkers, sagaWorkers := &benchWorkers{s: s}, &benchWorkers{s: s}
	b.Cleanup(floorWorkers.stop)
	b.Cleanup(sagaWorkers.stop)
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		b.Run("mode="+mode, func(b *testing.B) {
			floorSet := workerSet{mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			sagaSet := workerSet{fedsaga: true, mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			floor := s.sagaRunner(b, s.Temporal, kindFloor, floorSet, floorWorkers.use(b, floorSet), 1)
			saga := s.sagaRunner(b, s.Temporal, kindHappy, sagaSet, sagaWorkers.use(b, sagaSet), 1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			timed := func(run func(context.Context, int) error) time.Duration {
				began := time.Now()
				if err := run(ctx, 0); err != nil {
					b.Fatal(err)
				}
				return time.Since(began)
			}
			floors, sagas := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					floors = append(floors, timed(floor))
					sagas = append(sagas, timed(saga))
				} else {
					sagas = append(sagas, timed(saga))
					floors = append(floors, timed(floor))
				}
			}
			b.StopTimer()
			f, p := medianDuration(floors), medianDuration(sagas)
			b.ReportMetric(durationMS(p), "p50-ms")
			b.ReportMetric(durationMS(f), "floor-p50-ms")
			if f > 0 {
				b.ReportMetric(float64(p)/float64(f), "p50-ratio")
			}
		})
	}
}
