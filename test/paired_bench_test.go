package test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/test/floor"
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
	stack.floorAndSaga(b, 1, func(b *testing.B, pair floorSagaPair) {
		floor := &contender{name: "floor", run: pair.floor.once}
		saga := &contender{name: "saga", run: pair.saga.once}
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

// BenchmarkSagaPairedSaturation measures the throughput target's two sides
// alternately: the floor and the order saga at saturation (conc 32, 256
// sagas each, their rate that of the steady state: steadyRate), on the
// same server, one worker process each, both worker sets up throughout.
// Between them it measures the floor with every Temporal feature of the
// saga (BenchmarkSagaFeatureCost's "all": search attributes, summaries,
// payloads as heavy as a saga's of this run, start options), which splits
// the saga's throughput ratio into what the features cost and what
// fedsaga's own code and database work cost. One op is six measurements
// in the order floor, features, saga, saga, features, floor, so that a
// drift of the server's pace during the op (its queues' state between
// checkpoints, the store it grows) weighs on all alike. BenchmarkSaga
// measures each kind once, minutes apart, so the state of the server
// between them counts in their ratio. sagas/s is the saga's mean rate,
// floor-sagas/s the floor's, features-sagas/s the featured floor's;
// throughput-ratio is the saga's ÷ the floor's, features-ratio the
// featured floor's ÷ the floor's, code-ratio the saga's ÷ the featured
// floor's; server-cpu-ms/op, floor-server-cpu-ms/op and
// features-server-cpu-ms/op are the Temporal server's CPU per saga of
// each.
func BenchmarkSagaPairedSaturation(b *testing.B) {
	stack.floorAndSaga(b, saturation, func(b *testing.B, pair floorSagaPair) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		floor := &saturationSide{name: "floor", run: pair.floor}
		features := &saturationSide{name: "features", run: stack.featuredFloor(pair, stack.featuredShape(ctx, b, pair))}
		saga := &saturationSide{name: "saga", run: pair.saga}
		stack.inTurnAtSaturation(ctx, b, pair.pids, floor, features, saga)
		b.ReportMetric(saga.rate(), "sagas/s")
		b.ReportMetric(floor.rate(), "floor-sagas/s")
		b.ReportMetric(features.rate(), "features-sagas/s")
		b.ReportMetric(saga.rate()/floor.rate(), "throughput-ratio")
		b.ReportMetric(features.rate()/floor.rate(), "features-ratio")
		b.ReportMetric(saga.rate()/features.rate(), "code-ratio")
		b.ReportMetric(saga.serverCPU(), "server-cpu-ms/op")
		b.ReportMetric(floor.serverCPU(), "floor-server-cpu-ms/op")
		b.ReportMetric(features.serverCPU(), "features-server-cpu-ms/op")
	})
}

// stepDelay is how long each activity of the delayed featured floor takes
// (BenchmarkSagaStepTime): more than ten times a step's own database and
// NATS work on an idle machine (BenchmarkSagaSteps: about 2 ms for the six
// on a machine where the local floor runs 200 sagas/s).
const stepDelay = 4 * time.Millisecond

// BenchmarkSagaStepTime tells whether the time the saga's steps take, as
// opposed to the CPU they spend, costs throughput or Temporal server work
// at saturation. It measures, as BenchmarkSagaPairedSaturation does
// (conc 32, in the order features, delayed, saga, saga, delayed,
// features): the featured floor; the same floor whose activities each
// wait stepDelay before they return their input, so that as many sagas
// are in flight as when each step does real work (delayed); and the
// order saga. delay-ratio is the delayed floor's throughput ÷ the
// featured floor's, code-ratio the saga's ÷ the delayed floor's;
// NAME-server-cpu-ms/op is the Temporal server's CPU per saga of each.
func BenchmarkSagaStepTime(b *testing.B) {
	stack.floorAndSaga(b, saturation, func(b *testing.B, pair floorSagaPair) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		shape := stack.featuredShape(ctx, b, pair)
		features := &saturationSide{name: "features", run: stack.featuredFloor(pair, shape)}
		shape.DelayMS = int(stepDelay / time.Millisecond)
		delayed := &saturationSide{name: "delayed", run: stack.featuredFloor(pair, shape)}
		saga := &saturationSide{name: "saga", run: pair.saga}
		stack.inTurnAtSaturation(ctx, b, pair.pids, features, delayed, saga)
		reportSides(b, features, delayed, saga)
		b.ReportMetric(delayed.rate()/features.rate(), "delay-ratio")
		b.ReportMetric(saga.rate()/delayed.rate(), "code-ratio")
	})
}

// saturationSide is one contender of inTurnAtSaturation.
type saturationSide struct {
	name        string
	run         sagaFunc
	runs        int
	rates, cpus float64 // sums over the runs: sagas/s, the server's CPU ms per saga
}

// rate is the side's mean sagas/s.
func (sd *saturationSide) rate() float64 { return sd.rates / float64(sd.runs) }

// serverCPU is the Temporal server's mean CPU ms per saga of the side.
func (sd *saturationSide) serverCPU() float64 { return sd.cpus / float64(sd.runs) }

// reportSides reports each side's NAME-sagas/s and NAME-server-cpu-ms/op.
func reportSides(b *testing.B, sides ...*saturationSide) {
	for _, side := range sides {
		b.ReportMetric(side.rate(), side.name+"-sagas/s")
		b.ReportMetric(side.serverCPU(), side.name+"-server-cpu-ms/op")
	}
}

// inTurnAtSaturation measures sides at conc saturation, 256 sagas each
// (their rate that of the steady state: steadyRate), b.N times in their
// order and then in the reverse order (a, b, c, c, b, a), so that a drift
// of the server's pace during an op (its queues' state between
// checkpoints, the store it grows) weighs on all alike; pids are the
// worker processes whose CPU counts.
func (s *Stack) inTurnAtSaturation(ctx context.Context, b *testing.B, pids []int, sides ...*saturationSide) {
	n := saturation * saturationWaves
	back := slices.Clone(sides)
	slices.Reverse(back)
	order := append(slices.Clone(sides), back...)
	b.ResetTimer()
	for range b.N {
		for _, side := range order {
			m, err := s.measureSagas(ctx, n, saturation, pids, side.run.discardID, 0)
			if err != nil {
				b.Fatalf("%s: %v", side.name, err)
			}
			server := durationMS(m.cpu[cpuServer]) / float64(n)
			b.Logf("%s: %.2f sagas/s, server %.1f ms CPU per saga", side.name, m.rate, server)
			side.runs++
			side.rates += m.rate
			side.cpus += server
		}
	}
	b.StopTimer()
}

// featuredShape is the shape of a floor whose payloads are as heavy as
// those of one saga of pair that it runs first.
func (s *Stack) featuredShape(ctx context.Context, b *testing.B, pair floorSagaPair) floor.Shape {
	b.Helper()
	id, err := pair.saga.once(ctx)
	if err != nil {
		b.Fatalf("a saga to weigh: %v", err)
	}
	events, err := historyEvents(ctx, s.Temporal, id)
	if err != nil {
		b.Fatal(err)
	}
	return s.shapeLike(b, weigh(events))
}

// featuredFloor is the floor with every Temporal feature of the order saga
// (featureFloors' "all") on pair's floor workers, shaped like shape
// (featuredShape; DelayMS as it says).
func (s *Stack) featuredFloor(pair floorSagaPair, shape floor.Shape) sagaFunc {
	all := featureFloors[slices.IndexFunc(featureFloors, func(f featureFloor) bool { return f.name == "all" })]
	return s.shapedFloor(pair, all, shape)
}

// shapedFloor is the floor with f's features on pair's floor workers,
// shaped like shape, as a starter runs it.
func (s *Stack) shapedFloor(pair floorSagaPair, f featureFloor, shape floor.Shape) sagaFunc {
	run := f.runner(s.Temporal, pair.floorQueue, shape)
	return func(ctx context.Context, _ int) (string, error) { return run(ctx) }
}

// floorSagaPair is what floorAndSaga gives its body: a floor worker set
// and an order saga worker set, up throughout.
type floorSagaPair struct {
	floorQueue  string   // the floor workers' task queue
	floor, saga sagaFunc // one floor, one order saga
	pids        []int    // the worker processes of both sets
}

// floorAndSaga runs body as a sub-benchmark mode=M for each mode, with a
// floor worker set and an order saga worker set up, one process each, both
// up throughout (the one not in use only long-polls), their sagas run by
// up to conc starters.
func (s *Stack) floorAndSaga(b *testing.B, conc int, body func(b *testing.B, pair floorSagaPair)) {
	floorWorkers, sagaWorkers := &benchWorkers{s: s}, &benchWorkers{s: s}
	b.Cleanup(floorWorkers.stop)
	b.Cleanup(sagaWorkers.stop)
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		b.Run("mode="+mode, func(b *testing.B) {
			floorSet := workerSet{mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			sagaSet := workerSet{fedsaga: true, mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			pair := floorSagaPair{floorQueue: floorWorkers.use(b, floorSet)}
			pair.floor = s.sagaRun(b, s.Temporal, kindFloor, floorSet, pair.floorQueue, conc)
			pair.saga = s.sagaRun(b, s.Temporal, kindHappy, sagaSet, sagaWorkers.use(b, sagaSet), conc)
			pair.pids = append(floorWorkers.pids(), sagaWorkers.pids()...)
			body(b, pair)
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

// BenchmarkSagaFeatureSaturation splits the featured floor's cost at
// saturation by feature: BenchmarkSagaFeatureCost's floors (the floor, each
// of the saga's Temporal features alone, all of them) and the order saga,
// at conc 32 as BenchmarkSagaPairedSaturation measures them, in turn (in
// their order, then back). At conc 1 the server's CPU per variant is not
// to be trusted (each variant's window takes in the tail work of the one
// before it); at saturation each side's 256 sagas outweigh that tail.
// NAME-sagas/s and NAME-server-cpu-ms/op are each one's throughput and the
// Temporal server's CPU per saga; NAME-ratio its throughput ÷ the floor's.
func BenchmarkSagaFeatureSaturation(b *testing.B) {
	stack.floorAndSaga(b, saturation, func(b *testing.B, pair floorSagaPair) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		shape := stack.featuredShape(ctx, b, pair)
		var sides []*saturationSide
		for _, f := range featureFloors {
			sides = append(sides, &saturationSide{name: f.name, run: stack.shapedFloor(pair, f, shape)})
		}
		sides = append(sides, &saturationSide{name: "saga", run: pair.saga})
		stack.inTurnAtSaturation(ctx, b, pair.pids, sides...)
		reportSides(b, sides...)
		for _, side := range sides[1:] {
			b.ReportMetric(side.rate()/sides[0].rate(), side.name+"-ratio")
		}
	})
}
