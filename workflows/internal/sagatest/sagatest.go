// Package sagatest holds test helpers shared by the workflow tests: a
// recorder of the activity calls and timers of a test workflow, and a
// watcher of the search attributes it upserts.
package sagatest

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// Recorder records activity calls in call order, whether each ran as a
// local activity and with which timeouts, the workflow's timers, and the
// names a test fixed. Its zero value is ready to use.
type Recorder struct {
	mu       sync.Mutex
	calls    []string
	local    []bool
	timeouts []Timeouts
	timers   []time.Duration
	fixed    map[string]bool
}

// Timeouts are an activity's, as it got them.
type Timeouts struct {
	ScheduleToClose, StartToClose time.Duration
}

// Add records the call of the activity info describes.
func (r *Recorder) Add(call string, info *activity.Info) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
	r.local = append(r.local, info.IsLocalActivity)
	r.timeouts = append(r.timeouts, Timeouts{info.ScheduleToCloseTimeout, info.StartToCloseTimeout})
}

// Calls returns the calls, in order.
func (r *Recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Kinds returns the calls as "CALL@local" or "CALL@regular".
func (r *Recorder) Kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.calls))
	for i, c := range r.calls {
		out[i] = c + "@regular"
		if r.local[i] {
			out[i] = c + "@local"
		}
	}
	return out
}

// Timeouts returns the timeouts of every call named call, in order.
func (r *Recorder) Timeouts(call string) []Timeouts {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Timeouts
	for i, c := range r.calls {
		if c == call {
			out = append(out, r.timeouts[i])
		}
	}
	return out
}

// WatchTimers records the timers the workflow in env starts. Only workflow
// timers (workflow.NewTimer, workflow.Sleep) reach its listener; the test
// environment's own waits (retry backoffs, mock delays, delayed
// callbacks) do not.
func (r *Recorder) WatchTimers(env *testsuite.TestWorkflowEnvironment) {
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.timers = append(r.timers, d)
	})
}

// Timers returns the durations of the timers the workflow started.
func (r *Recorder) Timers() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.timers)
}

// Fix marks the named steps or activities fixed.
func (r *Recorder) Fix(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fixed == nil {
		r.fixed = map[string]bool{}
	}
	for _, n := range names {
		r.fixed[n] = true
	}
}

// Fixed reports whether name was fixed.
func (r *Recorder) Fixed(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fixed[name]
}

// SearchAttributes records the search attributes the workflow upserts.
type SearchAttributes struct {
	mu      sync.Mutex
	upserts []map[string]string
}

// WatchSearchAttributes records the search attributes the workflow in env
// upserts, as name to value.
func WatchSearchAttributes(env *testsuite.TestWorkflowEnvironment) *SearchAttributes {
	sa := &SearchAttributes{}
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		attrs := args.Get(0).(temporal.SearchAttributes)
		m := map[string]string{}
		for k, v := range attrs.GetUntypedValues() {
			m[k.GetName()] = fmt.Sprint(v)
		}
		sa.mu.Lock()
		sa.upserts = append(sa.upserts, m)
		sa.mu.Unlock()
	}).Return(nil)
	return sa
}

// All returns the upserts, in order.
func (sa *SearchAttributes) All() []map[string]string {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return slices.Clone(sa.upserts)
}
