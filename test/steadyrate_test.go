package test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestSteadyRate: conc starters in a closed loop, each saga taking 100 to
// 300 ms (uniform), saga after saga, as BenchmarkSaga's starters do at
// saturation. While all are busy they finish conc ÷ 200 ms sagas/s
// (Little's law). steadyRate finds that rate in long runs and, on
// average, in runs of three waves, where the sagas over the wall time
// fall short: the drain waits for the slowest of the last wave.
func TestSteadyRate(t *testing.T) {
	const conc = 8
	want := conc / 0.2
	// run simulates waves × conc sagas; a starter takes the next saga as
	// soon as it is free.
	run := func(rng *rand.Rand, waves int) (began, ended []time.Time, wall float64) {
		t0 := time.Unix(0, 0)
		free := make([]time.Time, conc)
		for i := range free {
			free[i] = t0
		}
		for range waves * conc {
			g := 0
			for k := range free {
				if free[k].Before(free[g]) {
					g = k
				}
			}
			began = append(began, free[g])
			free[g] = free[g].Add(time.Duration(100+rng.IntN(201)) * time.Millisecond)
			ended = append(ended, free[g])
		}
		last := slices.MaxFunc(ended, time.Time.Compare)
		return began, ended, float64(len(ended)) / last.Sub(t0).Seconds()
	}
	within := func(what string, got, tolerance float64) {
		t.Helper()
		if math.Abs(got-want)/want > tolerance {
			t.Errorf("%s: %.1f sagas/s, want %.1f within %.0f %%", what, got, want, tolerance*100)
		}
	}

	began, ended, _ := run(rand.New(rand.NewPCG(1, 2)), 256)
	within("steady rate, 256 waves", steadyRate(began, ended, conc), 0.05)

	const trials = 200
	var steady, wall float64
	for i := range trials {
		began, ended, w := run(rand.New(rand.NewPCG(uint64(i), 3)), 3)
		steady += steadyRate(began, ended, conc) / trials
		wall += w / trials
	}
	within("steady rate, 3 waves, mean of 200 runs", steady, 0.05)
	if wall > 0.9*want {
		t.Errorf("sagas over the wall time, 3 waves, mean of 200 runs: %.1f sagas/s; want the drain to show (below %.1f)", wall, 0.9*want)
	}

	if got := steadyRate(began[:conc], ended[:conc], conc); got != 0 {
		t.Errorf("one wave: steady rate %.1f, want 0 (no steady state)", got)
	}
}
