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
// floor-p50-ms the floor's, p50-ratio the one ÷ the other;
// server-cpu-ms/op and floor-server-cpu-ms/op the Temporal server's CPU
// per saga of each, from the saga's start until pairSettle after its end
// (the server's work after the result: history and visibility tasks).
// /proc counts CPU in 10 ms ticks: these are means over many sagas.
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
			server := s.serverPIDs()
			var floorCPU, sagaCPU time.Duration
			// timed runs one saga and returns its latency; the server's CPU
			// from its start until pairSettle after its end goes to *cpu.
			timed := func(run func(context.Context, int) error, cpu *time.Duration) time.Duration {
				before := pidsCPU(server)
				began := time.Now()
				if err := run(ctx, 0); err != nil {
					b.Fatal(err)
				}
				took := time.Since(began)
				time.Sleep(pairSettle)
				*cpu += pidsCPU(server) - before
				return took
			}
			floors, sagas := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					floors = append(floors, timed(floor, &floorCPU))
					sagas = append(sagas, timed(saga, &sagaCPU))
				} else {
					sagas = append(sagas, timed(saga, &sagaCPU))
					floors = append(floors, timed(floor, &floorCPU))
				}
			}
			b.StopTimer()
			f, p := medianDuration(floors), medianDuration(sagas)
			b.ReportMetric(durationMS(p), "p50-ms")
			b.ReportMetric(durationMS(f), "floor-p50-ms")
			if f > 0 {
				b.ReportMetric(float64(p)/float64(f), "p50-ratio")
			}
			if len(server) > 0 {
				b.ReportMetric(durationMS(sagaCPU)/float64(b.N), "server-cpu-ms/op")
				b.ReportMetric(durationMS(floorCPU)/float64(b.N), "floor-server-cpu-ms/op")
			}
		})
	}
}

// pairSettle is how long BenchmarkSagaPaired waits after each saga before
// it reads the server's CPU, so that the server's work after the result
// counts for that saga, not the next.
const pairSettle = 30 * time.Millisecond

// serverPIDs are the Temporal server's processes (the benchmark process's
// children sampleCPU counts as the server).
func (s *Stack) serverPIDs() []int {
	var pids []int
	for pid, p := range s.sampleCPU(nil) {
		if p.group == cpuServer {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pidsCPU is the CPU time (user + system) the processes pids have spent.
func pidsCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		if d, _, err := procCPU(pid); err == nil {
			total += d
		}
	}
	return total
}
