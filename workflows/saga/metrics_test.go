package saga

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// capture is a metrics handler that keeps what workflow code records:
// counters summed and timer records listed, by name and tags.
type capture struct {
	tags map[string]string
	all  *captured
}

type captured struct {
	mu       sync.Mutex
	counters map[string]int64
	timers   map[string][]time.Duration
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }

func newCapture() capture {
	return capture{all: &captured{counters: map[string]int64{}, timers: map[string][]time.Duration{}}}
}

// key is a metric's name with the tags the test cares about (the engine's
// own; the SDK's namespace, task_queue and workflow_type are left out).
func (c capture) key(name string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.tags)) {
		switch k {
		case "namespace", "task_queue", "workflow_type":
		default:
			parts = append(parts, k+"="+c.tags[k])
		}
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func (c capture) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(c.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return capture{tags: merged, all: c.all}
}

func (c capture) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		c.all.mu.Lock()
		defer c.all.mu.Unlock()
		c.all.counters[c.key(name)] += d
	})
}

func (c capture) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(float64) {})
}

func (c capture) Timer(name string) client.MetricsTimer {
	return timerFunc(func(d time.Duration) {
		c.all.mu.Lock()
		defer c.all.mu.Unlock()
		c.all.timers[c.key(name)] = append(c.all.timers[c.key(name)], d)
	})
}

// sagaCounters are the fedsaga_saga_* counters recorded.
func (c capture) sagaCounters() map[string]int64 {
	out := map[string]int64{}
	for k, v := range c.all.counters {
		if strings.HasPrefix(k, "fedsaga_") {
			out[k] = v
		}
	}
	return out
}

// timerCounts are how many records each fedsaga_saga_* timer got.
func (c capture) timerCounts() map[string]int {
	out := map[string]int{}
	for k, v := range c.all.timers {
		if strings.HasPrefix(k, "fedsaga_") {
			out[k] = len(v)
		}
	}
	return out
}

func finishedKey(status, failureType, step string) string {
	return fmt.Sprintf("%s{failed_step=%s,failure_type=%s,status=%s}", MetricFinished, step, failureType, status)
}

func stepKey(step, phase, result string) string {
	return fmt.Sprintf("%s{phase=%s,result=%s,step=%s}", MetricStepDuration, phase, result, step)
}

func compKey(name, step string) string { return name + "{step=" + step + "}" }

// TestSagaMetrics: each saga counts once by outcome, and every step's
// action and compensation is timed, through the workflow's metrics handler.
func TestSagaMetrics(t *testing.T) {
	cases := []struct {
		name     string
		in       sagaInput
		ops      []op
		counters map[string]int64
		timers   map[string]int
		minSaga  time.Duration // the least saga duration recorded
	}{
		{
			name: "completed, with a Finally step",
			in:   sagaInput{Steps: steps("a b", nil), Finally: "publish"},
			counters: map[string]int64{
				finishedKey(StatusCompleted, "none", "none"): 1,
			},
			timers: map[string]int{
				MetricDuration + "{status=completed}":  1,
				stepKey("a", PhaseForward, "ok"):       1,
				stepKey("b", PhaseForward, "ok"):       1,
				stepKey("publish", PhaseFinally, "ok"): 1,
			},
		},
		{
			name: "compensated: the failure type and step, each compensation once",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": noComp, "c": fails})},
			counters: map[string]int64{
				finishedKey(StatusCompensated, "BoomError", "c"): 1,
				compKey(MetricCompensations, "c"):                1,
				compKey(MetricCompensations, "a"):                1,
			},
			timers: map[string]int{
				MetricDuration + "{status=compensated}": 1,
				stepKey("a", PhaseForward, "ok"):        1,
				stepKey("b", PhaseForward, "ok"):        1,
				stepKey("c", PhaseForward, "failed"):    1,
				stepKey("c", PhaseCompensate, "ok"):     1,
				stepKey("a", PhaseCompensate, "ok"):     1,
			},
		},
		{
			name: "timeout: the step that would begin after the deadline",
			in:   sagaInput{Opts: Options{Timeout: time.Minute}, Steps: steps("a b c", map[string]func(*stepCfg){"b": both(plainAction, sleeps(2*time.Minute))})},
			counters: map[string]int64{
				finishedKey(StatusCompensated, "timeout", "c"): 1,
				compKey(MetricCompensations, "c"):              1,
				compKey(MetricCompensations, "b"):              1,
				compKey(MetricCompensations, "a"):              1,
			},
			timers: map[string]int{
				MetricDuration + "{status=compensated}": 1,
				stepKey("a", PhaseForward, "ok"):        1,
				stepKey("b", PhaseForward, "ok"):        1,
				stepKey("c", PhaseForward, "failed"):    1,
				stepKey("c", PhaseCompensate, "ok"):     1,
				stepKey("b", PhaseCompensate, "ok"):     1,
				stepKey("a", PhaseCompensate, "ok"):     1,
			},
			minSaga: 2 * time.Minute,
		},
		{
			name: "compensation failed, retried in vain, resolved: the wait is in the duration",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails})},
			ops: []op{
				{at: time.Hour, update: UpdateRetryCompensation},
				{at: 2 * time.Hour, update: UpdateResolve, args: []any{"refunded by hand"}},
			},
			counters: map[string]int64{
				finishedKey(StatusCompensated, "BoomError", "c"): 1,
				compKey(MetricCompensations, "c"):                1,
				compKey(MetricCompensations, "b"):                2,
				compKey(MetricCompensationFailures, "b"):         2,
				compKey(MetricCompensations, "a"):                1,
			},
			timers: map[string]int{
				MetricDuration + "{status=compensated}": 1,
				stepKey("a", PhaseForward, "ok"):        1,
				stepKey("b", PhaseForward, "ok"):        1,
				stepKey("c", PhaseForward, "failed"):    1,
				stepKey("c", PhaseCompensate, "ok"):     1,
				stepKey("b", PhaseCompensate, "failed"): 2,
				stepKey("a", PhaseCompensate, "ok"):     1,
			},
			minSaga: 2 * time.Hour,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			m := newCapture()
			env := newSagaEnv(rec, m)
			schedule(t, env, rec, tc.ops)
			runSaga(t, env, rec, tc.in)
			checkOps(t, tc.ops)
			if got := m.sagaCounters(); !reflect.DeepEqual(got, tc.counters) {
				t.Errorf("counters\n got  %v\n want %v", got, tc.counters)
			}
			if got := m.timerCounts(); !reflect.DeepEqual(got, tc.timers) {
				t.Errorf("timers\n got  %v\n want %v", got, tc.timers)
			}
			for k, ds := range m.all.timers {
				if strings.HasPrefix(k, MetricDuration+"{") && ds[0] < tc.minSaga {
					t.Errorf("%s recorded %s, want at least %s", k, ds[0], tc.minSaga)
				}
			}
		})
	}
}

func TestFailureType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "none"},
		{fmt.Errorf("%w (1m)", ErrTimeout), "timeout"},
		{fmt.Errorf("%w: customer called", ErrAborted), "aborted"},
		{ErrCancelled, "cancelled"},
		{appErr("OutOfStockError", "no stock"), "OutOfStockError"},
		{fmt.Errorf("wrapped: %w", appErr("InsufficientFundsError", "poor")), "InsufficientFundsError"},
		{fmt.Errorf("plain"), "error"},
	} {
		if got := FailureType(tc.err); got != tc.want {
			t.Errorf("FailureType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
