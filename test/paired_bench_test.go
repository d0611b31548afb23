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
	stack.floorAndSaga(b, func(b *testing.B, _ string, floorRun, sagaRun sagaFunc) {
		floor := &contender{name: "floor", run: floorRun.once}
		saga := &contender{name: "saga", run: sagaRun.once}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		server := stack.serverPIDs()
		inTurn(ctx, b, []*contender{floor, saga}, server)
		f, p := medianDuration(floor.took), medianDuration(saga.took)
		b.ReportMetric(durationMS(p), "p50-ms")
		b.ReportMetric(durationMS(f), "floor-p50-ms")
		if f > 0 {
			b.ReportMetric(float64(p)/float64(f), "p50-ratio")
		}
		if len(server) > 0 {
			b.ReportMetric(durationMS(saga.cpu[0])/float64(b.N), "server-cpu-ms/op")
			b.ReportMetric(durationMS(floor.cpu[0])/float64(b.N), "floor-server-cpu-ms/op")
		}
	})
}

// floorAndSaga runs body as a sub-benchmark mode=M for each mode, with a
// floor worker set and an order saga worker set up, one process each, both
// up throughout (the one not in use only long-polls): floorRun and sagaRun
// run one floor and one order saga at conc 1, floorQueue is the floor
// workers' task queue.
func (s *Stack) floorAndSaga(b *testing.B, body func(b *testing.B, floorQueue string, floorRun, sagaRun sagaFunc)) {
	floorWorkers, sagaWorkers := &benchWorkers{s: s}, &benchWorkers{s: s}
	b.Cleanup(floorWorkers.stop)
	b.Cleanup(sagaWorkers.stop)
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		b.Run("mode="+mode, func(b *testing.B) {
			floorSet := workerSet{mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			sagaSet := workerSet{fedsaga: true, mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			floorQueue := floorWorkers.use(b, floorSet)
			body(b, floorQueue, s.sagaRun(b, s.Temporal, kindFloor, floorSet, floorQueue, 1),
				s.sagaRun(b, s.Temporal, kindHappy, sagaSet, sagaWorkers.use(b, sagaSet), 1))
		})
	}
}

// contender is one kind of saga of a benchmark that runs several in turn
// (inTurn).
type contender struct {
	name string
	run  func(context.Context) (string, error) // one saga; its workflow id
	took []time.Duration                       // each saga's latency
	ids  []string                              // each saga's workflow id
	// cpu is, for each group of processes given to inTurn, the CPU they
	// spent over this contender's sagas.
	cpu []time.Duration
}

// inTurn runs b.N rounds of one saga of each contender, each round
// starting one further along, so that each comes first in turn and a drift
// of the machine's pace weighs on all alike. Around each saga, from its
// start until pairSettle after its end (the server's work after the
// result: history and visibility tasks), it reads the CPU of each group of
// processes in groups.
func inTurn(ctx context.Context, b *testing.B, cs []*contender, groups ...[]int) {
	for _, c := range cs {
		c.cpu = make([]time.Duration, len(groups))
	}
	before := make([]time.Duration, len(groups))
	b.ResetTimer()
	for i := range b.N {
		for j := range cs {
			c := cs[(i+j)%len(cs)]
			for g, pids := range groups {
				before[g] = pidsCPU(pids)
			}
			began := time.Now()
			id, err := c.run(ctx)
			if err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			c.took, c.ids = append(c.took, time.Since(began)), append(c.ids, id)
			time.Sleep(pairSettle)
			for g, pids := range groups {
				c.cpu[g] += pidsCPU(pids) - before[g]
			}
		}
	}
	b.StopTimer()
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
