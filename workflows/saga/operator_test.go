package saga

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
)

// ---------------------------------------------------------------------------
// an operator acting on a running test saga

// op is what an operator does at a given workflow time: look at the state,
// fix compensations, cancel the workflow, send an Update.
type op struct {
	at     time.Duration
	check  func(t *testing.T, st State, calls []string) // the state queried at that time, before anything else
	fix    []string                                     // compensations that succeed from now on
	cancel bool                                         // cancel the workflow
	update string                                       // the Update to send, "" for none
	args   []any
	reject string // a part of the expected rejection; "" when the Update must be accepted

	// what happened to the Update
	done, accepted, rejected, completed bool
	err                                 error
}

// schedule runs the ops at their times. A saga that waits for an operator
// is blocked on nothing but the ops, so the test clock jumps to them.
func schedule(t *testing.T, env *testsuite.TestWorkflowEnvironment, rec *recorder, ops []op) {
	t.Helper()
	for i := range ops {
		o := &ops[i]
		env.RegisterDelayedCallback(func() {
			o.done = true
			if o.check != nil {
				if env.IsWorkflowCompleted() {
					t.Errorf("op at %v: the workflow completed already", o.at)
				}
				o.check(t, queryState(t, env), rec.Calls())
			}
			rec.fix(o.fix...)
			if o.cancel {
				env.CancelWorkflow()
			}
			if o.update == "" {
				return
			}
			env.UpdateWorkflow(o.update, "", &testsuite.TestUpdateCallback{
				OnAccept: func() { o.accepted = true },
				OnReject: func(err error) { o.rejected, o.err = true, err },
				OnComplete: func(_ any, err error) {
					o.completed = true
					if err != nil {
						o.err = err
					}
				},
			}, o.args...)
		}, o.at)
	}
}

// checkOps checks that every op ran and that its Update was accepted and
// completed, or rejected with the expected error.
func checkOps(t *testing.T, ops []op) {
	t.Helper()
	for _, o := range ops {
		switch {
		case !o.done:
			t.Errorf("op at %v did not run", o.at)
		case o.update == "":
		case o.reject == "" && (!o.accepted || !o.completed || o.rejected || o.err != nil):
			t.Errorf("Update %s%q at %v: accepted %v completed %v rejected %v error %v; want accepted and completed",
				o.update, o.args, o.at, o.accepted, o.completed, o.rejected, o.err)
		case o.reject != "" && (!o.rejected || o.accepted || o.completed || o.err == nil || !strings.Contains(o.err.Error(), o.reject)):
			t.Errorf("Update %s%q at %v: accepted %v completed %v rejected %v error %v; want rejected with %q",
				o.update, o.args, o.at, o.accepted, o.completed, o.rejected, o.err, o.reject)
		}
	}
}

// waiting checks a saga in compensation_failed: the step whose compensation
// failed first, the step statuses and the calls so far (compensations
// compared as a set when parallel).
func waiting(step string, want map[string]string, calls []string, parallel bool) func(*testing.T, State, []string) {
	return func(t *testing.T, st State, got []string) {
		t.Helper()
		if st.Status != StatusCompensationFailed {
			t.Errorf("state status %q, want %s", st.Status, StatusCompensationFailed)
		}
		for _, s := range []string{"SagaCompensationError: compensation of step " + step + " failed after ", "attempts: UndoError: undo " + step + " failed"} {
			if !strings.Contains(st.Error, s) {
				t.Errorf("state error %q does not contain %q", st.Error, s)
			}
		}
		if got := statuses(st); !reflect.DeepEqual(got, want) {
			t.Errorf("step statuses %v, want %v", got, want)
		}
		for _, s := range st.Steps {
			if s.Status == StepCompensationFailed && (s.CompensationError != "UndoError: undo "+s.Name+" failed" || !s.CompensatedAt.IsZero()) {
				t.Errorf("step %s: %+v", s.Name, s)
			}
		}
		if !sameCalls(got, calls, parallel) {
			t.Errorf("calls so far\n got  %q\n want %q", got, calls)
		}
	}
}

// sameCalls compares calls; parallel compensations as a multiset, after the
// same actions.
func sameCalls(got, want []string, parallel bool) bool {
	if !parallel {
		return reflect.DeepEqual(got, want)
	}
	norm := func(calls []string) []string {
		calls = slices.Clone(calls)
		i := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "undo:") })
		if i >= 0 {
			slices.Sort(calls[i:])
		}
		return calls
	}
	return reflect.DeepEqual(norm(got), norm(want))
}

// TestSagaCompensationFailed: a compensation that fails after its retries
// puts the saga in compensation_failed, where it keeps running and waits for
// an operator: retry-compensation runs the failed compensations again (then
// those not run yet), resolve marks them resolved and goes on with the rest.
func TestSagaCompensationFailed(t *testing.T) {
	do := func(names string) []string {
		var out []string
		for _, n := range strings.Fields(names) {
			out = append(out, "do:"+n)
		}
		return out
	}
	undo := func(names string) []string {
		var out []string
		for _, n := range strings.Fields(names) {
			out = append(out, "undo:"+n)
		}
		return out
	}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	const (
		pend   = StepPending
		done   = StepDone
		comp   = StepCompensated
		failed = StepCompensationFailed
		res    = StepResolved
	)
	cases := []struct {
		name         string
		opts         Options
		steps        []stepCfg
		ops          []op
		calls        []string
		resolved     []string
		final        map[string]string
		compAttempts map[string]int32
	}{
		{
			name:  "default stops at the failing compensation; retried once fixed",
			steps: steps("a b c d", map[string]func(*stepCfg){"b": compFails, "d": fails}),
			ops: []op{{at: time.Hour, fix: []string{"b"}, update: UpdateRetryCompensation,
				check: waiting("b", map[string]string{"a": done, "b": failed, "c": comp, "d": comp}, cat(do("a b c d"), undo("d c b")), false)}},
			calls:        cat(do("a b c d"), undo("d c b b a")),
			final:        map[string]string{"a": comp, "b": comp, "c": comp, "d": comp},
			compAttempts: map[string]int32{"a": 1, "b": 2, "c": 1, "d": 1},
		},
		{
			name:  "retried while still broken: waits again; then resolved",
			steps: steps("a b c d", map[string]func(*stepCfg){"b": compFails, "d": fails}),
			ops: []op{
				{at: time.Hour, update: UpdateRetryCompensation,
					check: waiting("b", map[string]string{"a": done, "b": failed, "c": comp, "d": comp}, cat(do("a b c d"), undo("d c b")), false)},
				{at: 2 * time.Hour, update: UpdateResolve, args: []any{"refunded by hand"},
					check: waiting("b", map[string]string{"a": done, "b": failed, "c": comp, "d": comp}, cat(do("a b c d"), undo("d c b b")), false)},
			},
			calls:        cat(do("a b c d"), undo("d c b b a")),
			resolved:     []string{"b"},
			final:        map[string]string{"a": comp, "b": res, "c": comp, "d": comp},
			compAttempts: map[string]int32{"a": 1, "b": 2, "c": 1, "d": 1},
		},
		{
			name:  "resolved: the remaining compensations run",
			steps: steps("a b c d", map[string]func(*stepCfg){"b": compFails, "d": fails}),
			ops: []op{{at: time.Hour, update: UpdateResolve, args: []any{"refunded by hand"},
				check: waiting("b", map[string]string{"a": done, "b": failed, "c": comp, "d": comp}, cat(do("a b c d"), undo("d c b")), false)}},
			calls:    cat(do("a b c d"), undo("d c b a")),
			resolved: []string{"b"},
			final:    map[string]string{"a": comp, "b": res, "c": comp, "d": comp},
		},
		{
			name:  "the failing step's own compensation fails",
			steps: steps("a b c", map[string]func(*stepCfg){"b": both(fails, compFails)}),
			ops: []op{{at: time.Hour, update: UpdateResolve, args: []any{"refunded by hand"},
				check: waiting("b", map[string]string{"a": done, "b": failed, "c": pend}, cat(do("a b"), undo("b")), false)}},
			calls:    cat(do("a b"), undo("b a")),
			resolved: []string{"b"},
			final:    map[string]string{"a": comp, "b": res, "c": pend},
		},
		{
			name:  "ContinueWithError runs the remaining compensations before waiting",
			opts:  Options{ContinueWithError: true},
			steps: steps("a b c d", map[string]func(*stepCfg){"c": compFails, "d": fails}),
			ops: []op{{at: time.Hour, fix: []string{"c"}, update: UpdateRetryCompensation,
				check: waiting("c", map[string]string{"a": comp, "b": comp, "c": failed, "d": comp}, cat(do("a b c d"), undo("d c b a")), false)}},
			calls: cat(do("a b c d"), undo("d c b a c")),
			final: map[string]string{"a": comp, "b": comp, "c": comp, "d": comp},
		},
		{
			name:  "ContinueWithError: several failures, the first is reported, all are resolved",
			opts:  Options{ContinueWithError: true},
			steps: steps("a b c", map[string]func(*stepCfg){"a": compFails, "b": compFails, "c": fails}),
			ops: []op{{at: time.Hour, update: UpdateResolve, args: []any{"refunded by hand"},
				check: waiting("b", map[string]string{"a": failed, "b": failed, "c": comp}, cat(do("a b c"), undo("c b a")), false)}},
			calls:    cat(do("a b c"), undo("c b a")),
			resolved: []string{"b", "a"},
			final:    map[string]string{"a": res, "b": res, "c": comp},
		},
		{
			name:  "ContinueWithError: retry runs only the failed ones",
			opts:  Options{ContinueWithError: true},
			steps: steps("a b c", map[string]func(*stepCfg){"a": compFails, "b": compFails, "c": fails}),
			ops: []op{{at: time.Hour, fix: []string{"a", "b"}, update: UpdateRetryCompensation,
				check: waiting("b", map[string]string{"a": failed, "b": failed, "c": comp}, cat(do("a b c"), undo("c b a")), false)}},
			calls: cat(do("a b c"), undo("c b a b a")),
			final: map[string]string{"a": comp, "b": comp, "c": comp},
		},
		{
			name:  "parallel: all run at once, the failed one waits and is retried",
			opts:  Options{Parallel: true},
			steps: steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails}),
			ops: []op{{at: time.Hour, fix: []string{"b"}, update: UpdateRetryCompensation,
				check: waiting("b", map[string]string{"a": comp, "b": failed, "c": comp}, cat(do("a b c"), undo("a b c")), true)}},
			calls: cat(do("a b c"), undo("a b b c")),
			final: map[string]string{"a": comp, "b": comp, "c": comp},
		},
		{
			name:  "parallel: several failures resolved",
			opts:  Options{Parallel: true},
			steps: steps("a b c", map[string]func(*stepCfg){"a": compFails, "b": compFails, "c": fails}),
			ops: []op{{at: time.Hour, update: UpdateResolve, args: []any{"refunded by hand"},
				check: waiting("b", map[string]string{"a": failed, "b": failed, "c": comp}, cat(do("a b c"), undo("a b c")), true)}},
			calls:    cat(do("a b c"), undo("a b c")),
			resolved: []string{"b", "a"},
			final:    map[string]string{"a": res, "b": res, "c": comp},
		},
		{
			name:  "a cancelled workflow still waits for the operator",
			steps: steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails}),
			ops: []op{
				{at: 30 * time.Minute, cancel: true},
				{at: time.Hour, update: UpdateResolve, args: []any{"refunded by hand"},
					check: waiting("b", map[string]string{"a": done, "b": failed, "c": comp}, cat(do("a b c"), undo("c b")), false)},
			},
			calls:    cat(do("a b c"), undo("c b a")),
			resolved: []string{"b"},
			final:    map[string]string{"a": comp, "b": res, "c": comp},
		},
		{
			name:  "the saga's timeout passing while it waits changes nothing",
			opts:  Options{Timeout: time.Minute},
			steps: steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails}),
			ops: []op{{at: time.Hour, fix: []string{"b"}, update: UpdateRetryCompensation,
				check: waiting("b", map[string]string{"a": done, "b": failed, "c": comp}, cat(do("a b c"), undo("c b")), false)}},
			calls: cat(do("a b c"), undo("c b b a")),
			final: map[string]string{"a": comp, "b": comp, "c": comp},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			schedule(t, env, rec, tc.ops)
			res := runSaga(t, env, rec, sagaInput{Opts: tc.opts, Steps: tc.steps})
			checkOps(t, tc.ops)
			if got := rec.Calls(); !sameCalls(got, tc.calls, tc.opts.Parallel) {
				t.Errorf("calls\n got  %q\n want %q", got, tc.calls)
			}
			failedStep := tc.steps[len(tc.steps)-1].Name
			if tc.steps[len(tc.steps)-1].Fail == "" {
				failedStep = "b"
			}
			if res.Kind != "aborted" || res.FailedStep != failedStep || res.Reason != "BoomError: "+failedStep+" failed" ||
				!reflect.DeepEqual(res.Resolved, tc.resolved) {
				t.Errorf("result kind %q failed %q reason %q resolved %q; want aborted %q, resolved %q",
					res.Kind, res.FailedStep, res.Reason, res.Resolved, failedStep, tc.resolved)
			}
			st := res.State
			if st.Status != StatusCompensated || st.Error != "" || st.Step != "" || st.FailedStep != failedStep {
				t.Errorf("state %+v, want compensated", st)
			}
			if got := statuses(st); !reflect.DeepEqual(got, tc.final) {
				t.Errorf("step statuses %v, want %v", got, tc.final)
			}
			for _, s := range st.Steps {
				switch s.Status {
				case StepResolved:
					if s.Resolution != "refunded by hand" || !s.CompensatedAt.IsZero() || s.CompensationError == "" {
						t.Errorf("resolved step %s: %+v", s.Name, s)
					}
				case StepCompensated:
					if s.Resolution != "" || s.CompensatedAt.IsZero() || s.CompensationError != "" {
						t.Errorf("compensated step %s: %+v", s.Name, s)
					}
				}
				if want, ok := tc.compAttempts[s.Name]; ok && s.CompensationAttempts != want {
					t.Errorf("step %s: %d compensation attempts, want %d", s.Name, s.CompensationAttempts, want)
				}
			}
			if q := queryState(t, env); !reflect.DeepEqual(q, st) {
				t.Errorf("queried state\n %+v\nwant\n %+v", q, st)
			}
		})
	}
}

// TestSagaAbort: the Update "compensate" aborts a running saga: the step in
// progress is cancelled and every compensation registered so far runs.
func TestSagaAbort(t *testing.T) {
	// An activity needing an hour, with timeouts that let it (a local
	// activity's ScheduleToClose is its StartToClose when not set).
	slowHour := func(c *stepCfg) { c.Slow, c.ActStartToClose = true, 2*time.Hour }
	cases := []struct {
		name   string
		opts   Options
		steps  []stepCfg
		slow   time.Duration
		plain  []string
		calls  []string // with the activity kinds
		failed string
		final  map[string]string
	}{
		{"during a plain action", Options{}, steps("a b c", map[string]func(*stepCfg){"b": sleeps(time.Hour)}), 0,
			[]string{"do:b"}, []string{"do:a@regular", "undo:b@regular", "undo:a@regular"}, "b",
			map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepPending}},
		{"during an activity", Options{}, steps("a b c d", map[string]func(*stepCfg){"c": slowHour}), time.Hour,
			nil, []string{"do:a@regular", "do:b@regular", "do:c@regular", "undo:c@regular", "undo:b@regular", "undo:a@regular"}, "c",
			map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepCompensated, "d": StepPending}},
		{"during a local activity", Options{LocalActions: true}, steps("a b c", map[string]func(*stepCfg){"b": slowHour}), time.Hour,
			nil, []string{"do:a@local", "do:b@local", "undo:b@regular", "undo:a@regular"}, "b",
			map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepPending}},
		{"parallel", Options{Parallel: true}, steps("a b c", map[string]func(*stepCfg){"c": sleeps(time.Hour)}), 0,
			[]string{"do:c"}, []string{"do:a@regular", "do:b@regular", "undo:a@regular", "undo:b@regular", "undo:c@regular"}, "c",
			map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepCompensated}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			if tc.slow > 0 {
				slowActions(env, rec, tc.slow)
			}
			ops := []op{{at: 30 * time.Minute, update: UpdateCompensate, args: []any{"customer asked"},
				check: func(t *testing.T, st State, _ []string) {
					if st.Status != StatusRunning || st.Step != tc.failed {
						t.Errorf("state before the abort %+v, want running %s", st, tc.failed)
					}
				}}}
			schedule(t, env, rec, ops)
			res := runSaga(t, env, rec, sagaInput{Opts: tc.opts, Steps: tc.steps})
			checkOps(t, ops)
			if got := rec.Kinds(); !sameCalls(got, tc.calls, tc.opts.Parallel) {
				t.Errorf("calls\n got  %q\n want %q", got, tc.calls)
			}
			if !reflect.DeepEqual(res.Plain, tc.plain) {
				t.Errorf("plain actions %q, want %q", res.Plain, tc.plain)
			}
			const reason = "aborted by operator: customer asked"
			if res.Kind != "aborted" || res.Cause != causeAborted || res.FailedStep != tc.failed || res.Reason != reason {
				t.Errorf("result %+v, want aborted at %s", res, tc.failed)
			}
			st := res.State
			if st.Status != StatusCompensated || st.Reason != reason || st.FailedStep != tc.failed || !reflect.DeepEqual(statuses(st), tc.final) {
				t.Errorf("state %+v, want compensated with %v", st, tc.final)
			}
			s := stepState(t, st, tc.failed)
			if s.Error != reason {
				t.Errorf("step %s error %q, want %q", tc.failed, s.Error, reason)
			}
			if !tc.opts.LocalActions {
				if ended := s.EndedAt.Sub(st.Steps[0].StartedAt); ended != 30*time.Minute {
					t.Errorf("step %s ended %v after the start, want at the abort (30m)", tc.failed, ended)
				}
			}
		})
	}
}

// TestSagaUpdateValidators: Updates that do not fit the saga's state are
// rejected by their validators, and a rejected Update changes nothing: the
// state stays the same, and the saga ends exactly as it would have without
// it.
func TestSagaUpdateValidators(t *testing.T) {
	scenarios := map[string]struct {
		in  sagaInput
		ops []op // accepted ops the saga needs to finish
	}{
		// At 30 minutes, the saga ...
		"running":     {in: sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": sleeps(time.Hour)})}},
		"completed":   {in: sagaInput{Steps: steps("a b", nil), Linger: time.Hour}},
		"compensated": {in: sagaInput{Steps: steps("a b", map[string]func(*stepCfg){"b": fails}), Linger: time.Hour}},
		"compensation_failed": {
			in:  sagaInput{Steps: steps("a b", map[string]func(*stepCfg){"a": compFails, "b": fails})},
			ops: []op{{at: 2 * time.Hour, update: UpdateResolve, args: []any{"refunded by hand"}}},
		},
	}
	const (
		noReason      = "a reason is required to abort a saga"
		noResolution  = "a reason is required to resolve a compensation by hand"
		notRunning    = "only a running saga can be aborted"
		retryNotFails = "retry-compensation applies to a saga in compensation_failed"
		resolvNotFail = "resolve applies to a saga in compensation_failed"
	)
	cases := []struct {
		scenario string
		update   string
		args     []any
		reject   string
	}{
		{"running", UpdateCompensate, []any{""}, noReason},
		{"running", UpdateCompensate, []any{"  \t"}, noReason},
		{"running", UpdateRetryCompensation, nil, "saga is running: " + retryNotFails},
		{"running", UpdateResolve, []any{"fixed"}, "saga is running: " + resolvNotFail},
		{"running", UpdateResolve, []any{""}, noResolution},
		{"completed", UpdateCompensate, []any{"too late"}, "saga is completed: " + notRunning},
		{"completed", UpdateRetryCompensation, nil, "saga is completed: " + retryNotFails},
		{"completed", UpdateResolve, []any{"fixed"}, "saga is completed: " + resolvNotFail},
		{"compensated", UpdateCompensate, []any{"again"}, "saga is compensated: " + notRunning},
		{"compensated", UpdateRetryCompensation, nil, "saga is compensated: " + retryNotFails},
		{"compensated", UpdateResolve, []any{"fixed"}, "saga is compensated: " + resolvNotFail},
		{"compensation_failed", UpdateCompensate, []any{"again"}, "saga is compensation_failed: " + notRunning},
		{"compensation_failed", UpdateResolve, []any{""}, noResolution},
		{"compensation_failed", UpdateResolve, []any{" "}, noResolution},
	}
	for _, tc := range cases {
		t.Run(tc.scenario+"/"+tc.update+"("+formatArgs(tc.args)+")", func(t *testing.T) {
			sc := scenarios[tc.scenario]
			run := func(extra []op) (sagaResult, []string) {
				rec := &recorder{}
				env := newSagaEnv(rec)
				ops := append(slices.Clone(sc.ops), extra...)
				schedule(t, env, rec, ops)
				res := runSaga(t, env, rec, sc.in)
				checkOps(t, ops)
				return res, rec.Calls()
			}
			want, wantCalls := run(nil)

			var before State
			res, calls := run([]op{
				{at: 30 * time.Minute, update: tc.update, args: tc.args, reject: tc.reject,
					check: func(t *testing.T, st State, _ []string) {
						before = st
						if st.Status != tc.scenario {
							t.Errorf("state %+v, want %s", st, tc.scenario)
						}
					}},
				{at: 31 * time.Minute, check: func(t *testing.T, st State, _ []string) {
					if !reflect.DeepEqual(st, before) {
						t.Errorf("state after the rejected Update\n %+v\nbefore\n %+v", st, before)
					}
				}},
			})
			if !reflect.DeepEqual(calls, wantCalls) {
				t.Errorf("calls %q, want %q as without the Update", calls, wantCalls)
			}
			res.State, want.State = withoutTimes(res.State), withoutTimes(want.State)
			if !reflect.DeepEqual(res, want) {
				t.Errorf("result\n %+v\nwant as without the Update\n %+v", res, want)
			}
		})
	}
}

func formatArgs(args []any) string {
	var parts []string
	for _, a := range args {
		s, _ := a.(string)
		if strings.TrimSpace(s) == "" {
			s = "blank"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no args"
	}
	return strings.Join(parts, ",")
}

// TestSagaConcurrentOperatorUpdates: Updates that arrive together, in one
// workflow task, are validated against the state their predecessors leave:
// the second of two aborts, or a retry after a resolve, is rejected.
func TestSagaConcurrentOperatorUpdates(t *testing.T) {
	cases := []struct {
		name    string
		at      time.Duration
		steps   []stepCfg
		updates [][]any // name, args...
		check   func(t *testing.T, res sagaResult)
	}{
		{"two aborts", 30 * time.Minute, steps("a b c", map[string]func(*stepCfg){"b": sleeps(time.Hour)}),
			[][]any{{UpdateCompensate, "first"}, {UpdateCompensate, "second"}},
			func(t *testing.T, res sagaResult) {
				if res.Reason != "aborted by operator: first" {
					t.Errorf("reason %q, want the first abort's", res.Reason)
				}
			}},
		{"resolve then retry", time.Hour, steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails}),
			[][]any{{UpdateResolve, "refunded by hand"}, {UpdateRetryCompensation}},
			func(t *testing.T, res sagaResult) {
				if !reflect.DeepEqual(res.Resolved, []string{"b"}) {
					t.Errorf("resolved %q, want the first Update's", res.Resolved)
				}
			}},
		{"retry then resolve", time.Hour, steps("a b", map[string]func(*stepCfg){"a": compFails, "b": fails}),
			[][]any{{UpdateRetryCompensation}, {UpdateResolve, "refunded by hand"}},
			func(t *testing.T, res sagaResult) {
				if len(res.Resolved) != 0 {
					t.Errorf("resolved %q, want the first Update's retry", res.Resolved)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			type outcome struct{ accepted, rejected bool }
			outcomes := make([]outcome, len(tc.updates))
			env.RegisterDelayedCallback(func() {
				rec.fix("a") // a retry of a succeeds
				for i, u := range tc.updates {
					env.UpdateWorkflow(u[0].(string), "", &testsuite.TestUpdateCallback{
						OnAccept: func() { outcomes[i].accepted = true },
						OnReject: func(error) { outcomes[i].rejected = true },
					}, u[1:]...)
				}
			}, tc.at)
			res := runSaga(t, env, rec, sagaInput{Steps: tc.steps})
			if want := []outcome{{accepted: true}, {rejected: true}}; !reflect.DeepEqual(outcomes, want) {
				t.Errorf("Update outcomes %+v, want the first accepted and the second rejected", outcomes)
			}
			tc.check(t, res)
		})
	}
}

// TestValidatorsPendingAction: two operator Updates can reach the workflow
// in one workflow task; the second's validator then runs after the first's
// handler but before the saga acts on it (the test environment runs each
// Update in a workflow task of its own, so the validators are called
// directly here).
func TestValidatorsPendingAction(t *testing.T) {
	s := &Saga{state: State{Status: StatusCompensationFailed}}
	if err := s.validateRetry(); err != nil {
		t.Fatalf("validateRetry in compensation_failed: %v", err)
	}
	if err := s.validateResolve("fixed"); err != nil {
		t.Fatalf("validateResolve in compensation_failed: %v", err)
	}
	if err := s.onResolve(nil, "fixed"); err != nil {
		t.Fatal(err)
	}
	if err := s.validateRetry(); err == nil {
		t.Error("validateRetry accepted a retry while a resolve is pending")
	}
	if err := s.validateResolve("again"); err == nil {
		t.Error("validateResolve accepted a resolve while one is pending")
	}

	r := &Saga{state: State{Status: StatusRunning}, cancelRun: func() {}, logger: nopLogger{}}
	if err := r.validateAbort("first"); err != nil {
		t.Fatalf("validateAbort while running: %v", err)
	}
	if err := r.onAbort(nil, "first"); err != nil {
		t.Fatal(err)
	}
	if err := r.validateAbort("second"); err == nil {
		t.Error("validateAbort accepted a second abort")
	}
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
