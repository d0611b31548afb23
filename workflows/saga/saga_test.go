package saga

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/workflows/internal/sagatest"
)

// ---------------------------------------------------------------------------
// a tiny workflow that runs a saga built from its input

// stepCfg describes one step of the test saga. By default the action and
// the compensation are the activities "Act" and "Undo"; PlainAction and
// PlainComp make them workflow functions instead, Slow makes the action the
// activity "Slow" (which tests mock with a delay, see slowActions).
type stepCfg struct {
	Name        string
	NoComp      bool
	PlainAction bool
	PlainComp   bool
	Slow        bool
	Sleep       time.Duration // a plain action sleeps this long first (workflow time)

	Fail         string // the action fails with this (non-retryable) error type
	ActFlaky     int    // the Act activity fails retryably on its first ActFlaky attempts
	ActRetryable bool   // the Act activity always fails retryably
	// ActAttempts, ActStartToClose and ActScheduleToClose, when one is set,
	// make the step's own activity options (Step.Options): MaximumAttempts
	// (default 1), StartToClose (default 10 s) and ScheduleToClose (default
	// none).
	ActAttempts        int32
	ActStartToClose    time.Duration
	ActScheduleToClose time.Duration

	// CompFail makes the Undo activity fail with this error type until the
	// test fixes the step (recorder.fix); non-retryable unless CompRetryable.
	CompFail      string
	CompRetryable bool
	CompFlaky     int   // the Undo activity fails retryably on its first CompFlaky attempts
	CompAttempts  int32 // > 0: the step's own compensation options (Step.CompensationOptions)
}

type sagaInput struct {
	Opts    Options
	Steps   []stepCfg
	Finally string        // a Finally step of that name, running the activity "Fin"
	Linger  time.Duration // the workflow stays this long after the saga (to send it Updates)
	// Keys become Options.SearchAttributes (Keyword attributes; Options
	// cannot carry them through the workflow's input).
	Keys map[string]string
}

// Causes of an aborted saga, as sagaResult.Cause reports them.
const (
	causeStep      = "step" // the action's own error
	causeTimeout   = "timeout"
	causeAborted   = "aborted"
	causeCancelled = "cancelled"
)

type sagaResult struct {
	Kind       string // ok, aborted, other
	FailedStep string // Failure.Step
	Reason     string // Reason(Failure.Cause)
	Cause      string // which sentinel the cause matches (errors.Is)
	Resolved   []string
	Error      string
	Plain      []string // calls of the plain functions, in order
	FinallyErr string
	State      State
	// Sleeps are the timers the test workflow's own code started (plain
	// actions and compensations, Linger): runSaga checks that the workflow
	// started no other timer, so the engine none.
	Sleeps []time.Duration
}

const (
	actName  = "Act"
	undoName = "Undo"
	slowName = "Slow"
	finName  = "Fin"
	testWF   = "SagaTest"
)

func appErr(errType, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}

// ownOptions are the activity options of CompAttempts.
func ownOptions(attempts int32) *workflow.ActivityOptions {
	return &workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: localRetryBackoff, BackoffCoefficient: 1, MaximumAttempts: attempts},
	}
}

// actOptions are the step's own activity options of ActAttempts,
// ActStartToClose and ActScheduleToClose; nil when none is set.
func actOptions(c stepCfg) *workflow.ActivityOptions {
	if c.ActAttempts == 0 && c.ActStartToClose == 0 && c.ActScheduleToClose == 0 {
		return nil
	}
	o := ownOptions(max(c.ActAttempts, 1))
	if c.ActStartToClose > 0 {
		o.StartToCloseTimeout = c.ActStartToClose
	}
	o.ScheduleToCloseTimeout = c.ActScheduleToClose
	return o
}

func sagaWorkflow(ctx workflow.Context, in sagaInput) (sagaResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	keys := slices.Sorted(maps.Keys(in.Keys))
	for _, k := range keys {
		in.Opts.SearchAttributes = append(in.Opts.SearchAttributes, temporal.NewSearchAttributeKeyKeyword(k).ValueSet(in.Keys[k]))
	}
	s, err := New(ctx, in.Opts)
	if err != nil {
		return sagaResult{}, err
	}
	var res sagaResult
	sleep := func(ctx workflow.Context, d time.Duration) error {
		res.Sleeps = append(res.Sleeps, d)
		return workflow.Sleep(ctx, d)
	}
	steps := make([]Step, len(in.Steps))
	for i, c := range in.Steps {
		st := Step{Name: c.Name}
		switch {
		case c.PlainAction:
			st.Action = func(ctx workflow.Context) error {
				res.Plain = append(res.Plain, "do:"+c.Name)
				if c.Sleep > 0 {
					if err := sleep(ctx, c.Sleep); err != nil {
						return err
					}
				}
				if c.Fail != "" {
					return appErr(c.Fail, c.Name+" failed")
				}
				return nil
			}
		case c.Slow:
			st.Action = Activity(slowName, c)
		default:
			st.Action = Activity(actName, c)
		}
		switch {
		case c.NoComp:
		case c.PlainComp:
			st.Compensate = func(ctx workflow.Context, f Failure) error {
				res.Plain = append(res.Plain, fmt.Sprintf("undo:%s(%s)", c.Name, f.Step))
				// A compensation runs in a context that is not cancelled.
				return sleep(ctx, time.Millisecond)
			}
		default:
			st.Compensate = Undo(undoName, c)
		}
		st.Options = actOptions(c)
		if c.CompAttempts > 0 {
			st.CompensationOptions = ownOptions(c.CompAttempts)
		}
		steps[i] = st
	}

	err = s.Run(ctx, steps...)
	var aborted *AbortedError
	switch {
	case err == nil:
		res.Kind = "ok"
	case errors.As(err, &aborted):
		res.Kind = "aborted"
		res.FailedStep = aborted.Step
		res.Reason = Reason(aborted.Cause)
		res.Resolved = aborted.Resolved
		res.Cause = causeStep
		for cause, sentinel := range map[string]error{causeTimeout: ErrTimeout, causeAborted: ErrAborted, causeCancelled: ErrCancelled} {
			if errors.Is(err, sentinel) {
				res.Cause = cause
			}
		}
	default:
		res.Kind = "other"
	}
	if err != nil {
		res.Error = err.Error()
	}
	if in.Finally != "" {
		if err := s.Finally(ctx, in.Finally, Activity(finName, in.Finally)); err != nil {
			res.FinallyErr = Reason(err)
		}
	}
	if in.Linger > 0 {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = sleep(dctx, in.Linger)
	}
	res.State = s.State()
	return res, nil
}

// recorder is the Act, Slow, Undo and Fin activities; it records
// "do:NAME", "undo:NAME" and "fin:NAME" in call order, whether each call
// ran as a local activity and with which timeouts, and the workflow's
// timers.
type recorder struct {
	sagatest.Recorder
	finFail bool
	// undoHook runs in Undo after the call is recorded.
	undoHook func(ctx context.Context, c stepCfg)
}

func (r *recorder) add(ctx context.Context, s string) {
	info := activity.GetInfo(ctx)
	r.Add(s, &info)
}

// fix makes the failing compensations of the named steps succeed.
func (r *recorder) fix(names ...string) { r.Fix(names...) }

func (r *recorder) broken(c stepCfg) bool {
	return c.CompFail != "" && !r.Fixed(c.Name)
}

func (r *recorder) act(ctx context.Context, c stepCfg) error {
	r.add(ctx, "do:"+c.Name)
	switch {
	case c.Fail != "":
		return appErr(c.Fail, c.Name+" failed")
	case c.ActRetryable || int(activity.GetInfo(ctx).Attempt) <= c.ActFlaky:
		return temporal.NewApplicationError(c.Name+" unavailable", "Unavailable")
	}
	return nil
}

func (r *recorder) undo(ctx context.Context, c stepCfg) error {
	r.add(ctx, "undo:"+c.Name)
	if r.undoHook != nil {
		r.undoHook(ctx, c)
	}
	if r.broken(c) {
		if c.CompRetryable {
			return temporal.NewApplicationError("undo "+c.Name+" failed", c.CompFail)
		}
		return appErr(c.CompFail, "undo "+c.Name+" failed")
	}
	if int(activity.GetInfo(ctx).Attempt) <= c.CompFlaky {
		return temporal.NewApplicationError("undo "+c.Name+" flaked", "Flaky")
	}
	return nil
}

func (r *recorder) fin(ctx context.Context, name string) error {
	r.add(ctx, "fin:"+name)
	if r.finFail {
		return appErr("PublishError", "no broker")
	}
	return nil
}

// newSagaEnv returns a test environment for the saga test workflow, with
// the metrics handler m when one is given.
func newSagaEnv(rec *recorder, m ...client.MetricsHandler) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	for _, h := range m {
		suite.SetMetricsHandler(h)
	}
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(20 * time.Second)
	env.RegisterWorkflowWithOptions(sagaWorkflow, workflow.RegisterOptions{Name: testWF})
	env.RegisterActivityWithOptions(rec.act, activity.RegisterOptions{Name: actName})
	env.RegisterActivityWithOptions(rec.act, activity.RegisterOptions{Name: slowName})
	env.RegisterActivityWithOptions(rec.undo, activity.RegisterOptions{Name: undoName})
	env.RegisterActivityWithOptions(rec.fin, activity.RegisterOptions{Name: finName})
	rec.WatchTimers(env)
	return env
}

// slowActions makes every Slow action an activity that needs d of
// workflow time (a mock: the recorder does not see the call, so a listener
// records it). The test environment measures activity timeouts on the wall
// clock, so the mock applies the ScheduleToClose the activity got, as the
// server would: when d exceeds it, the activity fails with a
// ScheduleToClose timeout once it passed. (The StartToClose is not
// modelled: a shorter one would time out the attempt first and retry it.)
func slowActions(env *testsuite.TestWorkflowEnvironment, rec *recorder, d time.Duration) {
	var mu sync.Mutex
	var limit time.Duration // the ScheduleToClose of the Slow activity that started last
	record := func(ctx context.Context, info *activity.Info, c stepCfg) {
		rec.add(ctx, "do:"+c.Name)
		mu.Lock()
		limit = info.ScheduleToCloseTimeout
		mu.Unlock()
	}
	env.SetOnActivityStartedListener(func(info *activity.Info, ctx context.Context, args converter.EncodedValues) {
		var c stepCfg
		if info.ActivityType.Name == slowName && args.Get(&c) == nil {
			record(ctx, info, c)
		}
	})
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, ctx context.Context, args []any) {
		if c, ok := args[0].(stepCfg); ok && info.ActivityType.Name == slowName {
			record(ctx, info, c)
		}
	})
	env.OnActivity(slowName, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return timeoutAfter(limit, d)
	}).Return(func(ctx context.Context, _ stepCfg) error {
		if timeoutAfter(activity.GetInfo(ctx).ScheduleToCloseTimeout, d) < d {
			return temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, nil)
		}
		return nil
	})
}

// timeoutAfter is how long an activity that needs d runs with the
// ScheduleToClose limit (0: none).
func timeoutAfter(limit, d time.Duration) time.Duration {
	if limit > 0 && limit < d {
		return limit
	}
	return d
}

func runSaga(t *testing.T, env *testsuite.TestWorkflowEnvironment, rec *recorder, in sagaInput) sagaResult {
	t.Helper()
	env.ExecuteWorkflow(testWF, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var res sagaResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	// The engine starts no timer (the saga timeout is the activities'
	// ScheduleToClose): the workflow's timers are the test code's own, and
	// with LocalActions the SDK's backoffs between local attempts.
	var timers []time.Duration
	for _, d := range rec.Timers() {
		if !in.Opts.LocalActions || d != localRetryBackoff {
			timers = append(timers, d)
		}
	}
	slices.Sort(timers)
	if own := slices.Sorted(slices.Values(res.Sleeps)); !reflect.DeepEqual(timers, own) {
		t.Errorf("the workflow started timers %v; its test code started %v (the engine must start none)", timers, own)
	}
	return res
}

// localRetryBackoff is the retry interval of ownOptions: the SDK waits for
// it between the attempts of a local activity with a workflow timer.
const localRetryBackoff = time.Second

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) State {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatalf("query %s: %v", QueryState, err)
	}
	var st State
	if err := v.Get(&st); err != nil {
		t.Fatalf("decode state: %v", err)
	}
	return st
}

func statuses(st State) map[string]string {
	m := map[string]string{}
	for _, s := range st.Steps {
		m[s.Name] = s.Status
	}
	return m
}

func stepState(t *testing.T, st State, name string) StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in state %+v", name, st)
	return StepState{}
}

// withoutTimes is st with every time zeroed, to compare states of different
// runs.
func withoutTimes(st State) State {
	st.UpdatedAt = time.Time{}
	st.Steps = slices.Clone(st.Steps)
	for i := range st.Steps {
		s := &st.Steps[i]
		s.StartedAt, s.EndedAt, s.CompensatedAt = time.Time{}, time.Time{}, time.Time{}
	}
	return st
}

// steps builds activity steps named names; mod adjusts them by name.
func steps(names string, mod map[string]func(*stepCfg)) []stepCfg {
	var out []stepCfg
	for _, n := range strings.Fields(names) {
		c := stepCfg{Name: n}
		if f := mod[n]; f != nil {
			f(&c)
		}
		out = append(out, c)
	}
	return out
}

func fails(c *stepCfg)       { c.Fail = "BoomError" }
func compFails(c *stepCfg)   { c.CompFail = "UndoError" }
func noComp(c *stepCfg)      { c.NoComp = true }
func plainAction(c *stepCfg) { c.PlainAction = true }

func both(fs ...func(*stepCfg)) func(*stepCfg) {
	return func(c *stepCfg) {
		for _, f := range fs {
			f(c)
		}
	}
}

// sleeps is a plain action that sleeps d.
func sleeps(d time.Duration) func(*stepCfg) {
	return func(c *stepCfg) { c.PlainAction, c.Sleep = true, d }
}

// ---------------------------------------------------------------------------
// tests

func TestSagaSequential(t *testing.T) {
	cases := []struct {
		name       string
		opts       Options
		steps      []stepCfg
		wantCalls  []string
		kind       string
		failedStep string
		reason     string
		status     string
		stepStates map[string]string
	}{
		{
			name:      "all succeed",
			steps:     steps("a b c", nil),
			wantCalls: []string{"do:a", "do:b", "do:c"},
			kind:      "ok", status: StatusCompleted,
			stepStates: map[string]string{"a": StepDone, "b": StepDone, "c": StepDone},
		},
		{
			name:      "last step fails: reverse order, its own compensation first",
			steps:     steps("a b c d", map[string]func(*stepCfg){"d": fails}),
			wantCalls: []string{"do:a", "do:b", "do:c", "do:d", "undo:d", "undo:c", "undo:b", "undo:a"},
			kind:      "aborted", failedStep: "d", reason: "BoomError: d failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepCompensated, "d": StepCompensated},
		},
		{
			name:      "middle step fails: later steps neither run nor compensate",
			steps:     steps("a b c d", map[string]func(*stepCfg){"b": fails}),
			wantCalls: []string{"do:a", "do:b", "undo:b", "undo:a"},
			kind:      "aborted", failedStep: "b", reason: "BoomError: b failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepPending, "d": StepPending},
		},
		{
			name:      "first step fails: only its own compensation",
			steps:     steps("a b", map[string]func(*stepCfg){"a": fails}),
			wantCalls: []string{"do:a", "undo:a"},
			kind:      "aborted", failedStep: "a", reason: "BoomError: a failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepPending},
		},
		{
			name:      "step without compensation is skipped",
			steps:     steps("a b c", map[string]func(*stepCfg){"b": noComp, "c": fails}),
			wantCalls: []string{"do:a", "do:b", "do:c", "undo:c", "undo:a"},
			kind:      "aborted", failedStep: "c", reason: "BoomError: c failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepDone, "c": StepCompensated},
		},
		{
			name:      "failing step without compensation",
			steps:     steps("a b", map[string]func(*stepCfg){"b": both(fails, noComp)}),
			wantCalls: []string{"do:a", "do:b", "undo:a"},
			kind:      "aborted", failedStep: "b", reason: "BoomError: b failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepFailed},
		},
		{
			name:      "nothing to compensate: compensated at once",
			steps:     steps("a b", map[string]func(*stepCfg){"a": both(fails, noComp)}),
			wantCalls: []string{"do:a"},
			kind:      "aborted", failedStep: "a", reason: "BoomError: a failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepFailed, "b": StepPending},
		},
		{
			name:      "a compensation is retried until it succeeds",
			steps:     steps("a b", map[string]func(*stepCfg){"a": func(c *stepCfg) { c.CompFlaky = 2 }, "b": fails}),
			wantCalls: []string{"do:a", "do:b", "undo:b", "undo:a", "undo:a", "undo:a"},
			kind:      "aborted", failedStep: "b", reason: "BoomError: b failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepCompensated},
		},
		{
			name:      "ContinueWithError changes nothing when every compensation succeeds",
			opts:      Options{ContinueWithError: true},
			steps:     steps("a b c", map[string]func(*stepCfg){"c": fails}),
			wantCalls: []string{"do:a", "do:b", "do:c", "undo:c", "undo:b", "undo:a"},
			kind:      "aborted", failedStep: "c", reason: "BoomError: c failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepCompensated},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			res := runSaga(t, env, rec, sagaInput{Opts: tc.opts, Steps: tc.steps})
			if got := rec.Calls(); !reflect.DeepEqual(got, tc.wantCalls) {
				t.Errorf("calls\n got  %q\n want %q", got, tc.wantCalls)
			}
			if res.Kind != tc.kind || res.FailedStep != tc.failedStep || res.Reason != tc.reason || len(res.Resolved) != 0 {
				t.Errorf("result kind %q failed %q reason %q resolved %q; want %q %q %q none (error %s)",
					res.Kind, res.FailedStep, res.Reason, res.Resolved, tc.kind, tc.failedStep, tc.reason, res.Error)
			}
			if tc.kind == "aborted" && (res.Cause != causeStep || !strings.HasPrefix(res.Error, "saga compensated after step "+tc.failedStep+" failed: ") ||
				!strings.HasSuffix(res.Error, ": "+tc.failedStep+" failed (type: BoomError, retryable: false)")) {
				t.Errorf("cause %q, error %q", res.Cause, res.Error)
			}
			st := res.State
			if st.Status != tc.status || st.Reason != tc.reason || st.FailedStep != tc.failedStep || st.Step != "" || st.Error != "" {
				t.Errorf("state %+v, want status %q reason %q failed step %q", st, tc.status, tc.reason, tc.failedStep)
			}
			if got := statuses(st); !reflect.DeepEqual(got, tc.stepStates) {
				t.Errorf("step statuses %v, want %v", got, tc.stepStates)
			}
			if st.UpdatedAt.IsZero() {
				t.Error("state has no update time")
			}
			for _, s := range st.Steps {
				ran := s.Status != StepPending
				if ran != !s.StartedAt.IsZero() || ran != !s.EndedAt.IsZero() || (ran && s.EndedAt.Before(s.StartedAt)) {
					t.Errorf("step %s (%s) started %v ended %v", s.Name, s.Status, s.StartedAt, s.EndedAt)
				}
				if ran && s.Attempts != 1 {
					t.Errorf("step %s has %d attempts, want 1 (no attempt number without the interceptor)", s.Name, s.Attempts)
				}
				if s.Name == tc.failedStep {
					if s.Error != tc.reason {
						t.Errorf("failed step %s has error %q, want %q", s.Name, s.Error, tc.reason)
					}
				} else if s.Error != "" {
					t.Errorf("step %s has error %q", s.Name, s.Error)
				}
				compensated := s.Status == StepCompensated
				if compensated != !s.CompensatedAt.IsZero() || compensated != (s.CompensationAttempts == 1) || s.CompensationError != "" || s.Resolution != "" {
					t.Errorf("step %s: %+v", s.Name, s)
				}
			}
			// The state the query reports once the workflow is done.
			if q := queryState(t, env); !reflect.DeepEqual(q, st) {
				t.Errorf("queried state\n %+v\nwant\n %+v", q, st)
			}
		})
	}
}

// TestSagaParallel: every registered compensation runs, at once; the order
// is not asserted, the set and the concurrency are.
func TestSagaParallel(t *testing.T) {
	cases := []struct {
		name  string
		steps []stepCfg
		undos []string
	}{
		{"all compensate", steps("a b c d", map[string]func(*stepCfg){"b": noComp, "d": fails}),
			[]string{"undo:a", "undo:c", "undo:d"}},
		{"only the steps that ran", steps("a b c d", map[string]func(*stepCfg){"b": fails}),
			[]string{"undo:a", "undo:b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			maxInflight := concurrent(rec, len(tc.undos))
			env := newSagaEnv(rec)
			res := runSaga(t, env, rec, sagaInput{Opts: Options{Parallel: true}, Steps: tc.steps})

			do, undo := splitCalls(t, rec.Calls())
			if !reflect.DeepEqual(undo, tc.undos) {
				t.Errorf("compensations %q, want the set %q", undo, tc.undos)
			}
			var wantDo []string
			for _, c := range tc.steps {
				wantDo = append(wantDo, "do:"+c.Name)
				if c.Fail != "" {
					break
				}
			}
			if !reflect.DeepEqual(do, wantDo) {
				t.Errorf("actions %q, want %q", do, wantDo)
			}
			if got := maxInflight(); got != len(tc.undos) {
				t.Errorf("at most %d compensations ran at once, want %d", got, len(tc.undos))
			}
			if res.Kind != "aborted" || res.State.Status != StatusCompensated || res.State.Error != "" {
				t.Errorf("result %+v", res)
			}
			for _, s := range res.State.Steps {
				if s.Status == StepCompensated && s.CompensatedAt.IsZero() {
					t.Errorf("step %s has no compensation time", s.Name)
				}
			}
		})
	}
}

// concurrent makes each Undo wait until n of them run (or 2 s pass): run
// one after the other, they would never overlap. It returns how many ran
// at once at most.
func concurrent(rec *recorder, n int) func() int {
	var mu sync.Mutex
	inflight, maxInflight := 0, 0
	allIn := make(chan struct{})
	rec.undoHook = func(context.Context, stepCfg) {
		mu.Lock()
		inflight++
		maxInflight = max(maxInflight, inflight)
		if inflight == n {
			close(allIn)
		}
		mu.Unlock()
		select {
		case <-allIn:
		case <-time.After(2 * time.Second):
		}
		mu.Lock()
		inflight--
		mu.Unlock()
	}
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return maxInflight
	}
}

// splitCalls returns the actions in order and the compensations sorted; no
// action may run after a compensation.
func splitCalls(t *testing.T, calls []string) (do, undo []string) {
	t.Helper()
	for i, c := range calls {
		if strings.HasPrefix(c, "undo:") {
			undo = append(undo, c)
			continue
		}
		do = append(do, c)
		if len(undo) > 0 {
			t.Errorf("action %s ran after a compensation (calls %q, index %d)", c, calls, i)
		}
	}
	slices.Sort(undo)
	return do, undo
}

// TestSagaPlainFunctions: actions and compensations that are workflow
// functions, not activities; a compensation gets the failure.
func TestSagaPlainFunctions(t *testing.T) {
	plain := func(c *stepCfg) { c.PlainAction, c.PlainComp = true, true }
	rec := &recorder{}
	env := newSagaEnv(rec)
	res := runSaga(t, env, rec, sagaInput{Steps: steps("a b c d", map[string]func(*stepCfg){
		"a": plain, "b": both(plain, noComp), "c": both(plain, fails), "d": plain,
	})})
	want := []string{"do:a", "do:b", "do:c", "undo:c(c)", "undo:a(c)"}
	if !reflect.DeepEqual(res.Plain, want) {
		t.Errorf("plain calls %q, want %q", res.Plain, want)
	}
	if calls := rec.Calls(); len(calls) != 0 {
		t.Errorf("activities ran: %q", calls)
	}
	if res.Kind != "aborted" || res.FailedStep != "c" || res.Reason != "BoomError: c failed" {
		t.Errorf("result %+v", res)
	}
	want2 := map[string]string{"a": StepCompensated, "b": StepDone, "c": StepCompensated, "d": StepPending}
	if got := statuses(res.State); !reflect.DeepEqual(got, want2) {
		t.Errorf("step statuses %v, want %v", got, want2)
	}
}

// TestSagaTimeout: the saga's timeout needs no timer. Every action's
// activities get a ScheduleToClose (and a StartToClose, when longer) that
// ends at the deadline; an action that fails once the deadline passed, and
// a step that would begin after it, make the saga compensate with
// ErrTimeout. The compensations get the engine's options, not the time
// left.
func TestSagaTimeout(t *testing.T) {
	// slowAct makes the step a Slow activity with its own StartToClose and
	// ScheduleToClose (0: none).
	slowAct := func(startToClose, scheduleToClose time.Duration) func(*stepCfg) {
		return func(c *stepCfg) {
			c.Slow, c.ActStartToClose, c.ActScheduleToClose = true, startToClose, scheduleToClose
		}
	}
	const sagaTimeout = "saga timeout passed (1m0s)"
	// The engine's compensation options (CompensationTimeout default 10m).
	comp := sagatest.Timeouts{ScheduleToClose: 10 * time.Minute, StartToClose: 30 * time.Second}
	cases := []struct {
		name     string
		local    bool
		steps    []stepCfg
		slow     time.Duration // Slow activities need this long
		plain    []string
		calls    []string
		timeouts map[string]sagatest.Timeouts // the timeouts each call got
		sleeps   []time.Duration              // the workflow's timers: the plain actions' sleeps, nothing else
		failed   string                       // "" when the saga completes
		cause    string
		reason   string        // Reason's prefix when cause is causeStep
		ended    time.Duration // when the failed step ended, after the start
	}{
		{
			name:  "an activity needing longer than the time left times out at the deadline",
			steps: steps("a b c", map[string]func(*stepCfg){"b": slowAct(10*time.Minute, 5*time.Minute)}),
			slow:  2 * time.Minute,
			calls: []string{"do:a", "do:b", "undo:b", "undo:a"},
			timeouts: map[string]sagatest.Timeouts{
				"do:a":   {ScheduleToClose: time.Minute, StartToClose: 10 * time.Second},
				"do:b":   {ScheduleToClose: time.Minute, StartToClose: time.Minute},
				"undo:b": comp, "undo:a": comp,
			},
			failed: "b", cause: causeTimeout, reason: sagaTimeout, ended: time.Minute,
		},
		{
			name:     "a later step gets only the time left",
			steps:    steps("a b c", map[string]func(*stepCfg){"a": sleeps(20 * time.Second), "b": slowAct(10*time.Minute, 0)}),
			slow:     2 * time.Minute,
			plain:    []string{"do:a"},
			calls:    []string{"do:b", "undo:b", "undo:a"},
			timeouts: map[string]sagatest.Timeouts{"do:b": {ScheduleToClose: 40 * time.Second, StartToClose: 40 * time.Second}},
			sleeps:   []time.Duration{20 * time.Second},
			failed:   "b", cause: causeTimeout, reason: sagaTimeout, ended: time.Minute,
		},
		{
			name:     "local actions: ScheduleToClose and StartToClose end at the deadline",
			local:    true,
			steps:    steps("a b c", map[string]func(*stepCfg){"a": sleeps(15 * time.Second), "b": slowAct(10*time.Minute, 0)}),
			slow:     2 * time.Minute,
			plain:    []string{"do:a"},
			calls:    []string{"do:b", "undo:b", "undo:a"},
			timeouts: map[string]sagatest.Timeouts{"do:b": {ScheduleToClose: 45 * time.Second, StartToClose: 45 * time.Second}},
			sleeps:   []time.Duration{15 * time.Second},
			failed:   "b", cause: causeTimeout, reason: sagaTimeout, ended: time.Minute,
		},
		{
			name:     "shorter timeouts of the step's own are kept; failing before the deadline keeps its cause",
			steps:    steps("a b c", map[string]func(*stepCfg){"b": slowAct(15*time.Second, 20*time.Second)}),
			slow:     2 * time.Minute,
			calls:    []string{"do:a", "do:b", "undo:b", "undo:a"},
			timeouts: map[string]sagatest.Timeouts{"do:b": {ScheduleToClose: 20 * time.Second, StartToClose: 15 * time.Second}},
			failed:   "b", cause: causeStep, reason: "timeout: ", ended: 20 * time.Second,
		},
		{
			name:     "a step ending at the deadline: the next one fails without running",
			steps:    steps("a b c", map[string]func(*stepCfg){"b": slowAct(10*time.Minute, 0)}),
			slow:     time.Minute, // all the time left
			calls:    []string{"do:a", "do:b", "undo:c", "undo:b", "undo:a"},
			timeouts: map[string]sagatest.Timeouts{"do:b": {ScheduleToClose: time.Minute, StartToClose: time.Minute}, "undo:c": comp},
			failed:   "c", cause: causeTimeout, reason: sagaTimeout, ended: time.Minute,
		},
		{
			name:   "the deadline passes during a plain step: the next one fails without running",
			steps:  steps("a b c", map[string]func(*stepCfg){"a": plainAction, "b": sleeps(2 * time.Minute), "c": plainAction}),
			plain:  []string{"do:a", "do:b"},
			calls:  []string{"undo:c", "undo:b", "undo:a"},
			sleeps: []time.Duration{2 * time.Minute},
			failed: "c", cause: causeTimeout, reason: sagaTimeout, ended: 2 * time.Minute,
		},
		{
			name:     "a business failure before the deadline keeps its cause",
			steps:    steps("a b c", map[string]func(*stepCfg){"b": fails}),
			calls:    []string{"do:a", "do:b", "undo:b", "undo:a"},
			timeouts: map[string]sagatest.Timeouts{"do:b": {ScheduleToClose: time.Minute, StartToClose: 10 * time.Second}},
			failed:   "b", cause: causeStep, reason: "BoomError: b failed",
		},
		{
			name:     "steps finishing in time complete",
			steps:    steps("a b c", map[string]func(*stepCfg){"a": plainAction, "b": sleeps(30 * time.Second)}),
			plain:    []string{"do:a", "do:b"},
			calls:    []string{"do:c"},
			timeouts: map[string]sagatest.Timeouts{"do:c": {ScheduleToClose: 30 * time.Second, StartToClose: 10 * time.Second}},
			sleeps:   []time.Duration{30 * time.Second},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			if tc.slow > 0 {
				slowActions(env, rec, tc.slow)
			}
			res := runSaga(t, env, rec, sagaInput{Opts: Options{Timeout: time.Minute, LocalActions: tc.local}, Steps: tc.steps})
			if !reflect.DeepEqual(res.Plain, tc.plain) || !reflect.DeepEqual(rec.Calls(), tc.calls) {
				t.Errorf("plain %q activities %q; want %q %q", res.Plain, rec.Calls(), tc.plain, tc.calls)
			}
			// No timer for the saga timeout: the workflow's timers are the
			// plain actions' sleeps (runSaga checks it too).
			if got := rec.Timers(); !reflect.DeepEqual(got, tc.sleeps) || !reflect.DeepEqual(res.Sleeps, tc.sleeps) {
				t.Errorf("timers %v (the test code's %v), want only the plain sleeps %v", got, res.Sleeps, tc.sleeps)
			}
			for call, want := range tc.timeouts {
				if got := rec.Timeouts(call); len(got) != 1 || got[0] != want {
					t.Errorf("%s got timeouts %+v, want once %+v", call, got, want)
				}
			}
			if kinds := rec.Kinds(); tc.local && len(kinds) > 0 && kinds[0] != tc.calls[0]+"@local" {
				t.Errorf("calls %q, want the actions local", kinds)
			}
			st := res.State
			if tc.failed == "" {
				if res.Kind != "ok" || st.Status != StatusCompleted || !reflect.DeepEqual(statuses(st), map[string]string{"a": StepDone, "b": StepDone, "c": StepDone}) {
					t.Errorf("result %+v, want completed", res)
				}
				return
			}
			if res.Kind != "aborted" || res.Cause != tc.cause || res.FailedStep != tc.failed || !strings.HasPrefix(res.Reason, tc.reason) ||
				(tc.cause == causeTimeout && res.Reason != tc.reason) {
				t.Fatalf("result %+v, want step %s failed with %s %q", res, tc.failed, tc.cause, tc.reason)
			}
			if tc.cause == causeStep && tc.reason == "timeout: " && !strings.Contains(res.Reason, "ScheduleToClose") {
				t.Errorf("reason %q, want the step's own ScheduleToClose timeout", res.Reason)
			}
			if st.Status != StatusCompensated || st.Reason != res.Reason || st.FailedStep != tc.failed || st.Step != "" {
				t.Errorf("state %+v", st)
			}
			wantStatuses := map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepCompensated}
			if tc.failed == "b" {
				wantStatuses["c"] = StepPending
			}
			if got := statuses(st); !reflect.DeepEqual(got, wantStatuses) {
				t.Errorf("step statuses %v, want %v", got, wantStatuses)
			}
			f := stepState(t, st, tc.failed)
			if f.Error != res.Reason || f.Attempts != 1 {
				t.Errorf("step %s: %+v", tc.failed, f)
			}
			if ended := f.EndedAt.Sub(st.Steps[0].StartedAt); ended != tc.ended {
				t.Errorf("step %s ended %v after the start, want %v", tc.failed, ended, tc.ended)
			}
			if tc.failed == "c" && !f.StartedAt.Equal(f.EndedAt) {
				t.Errorf("step c began after the deadline and ran for %v; it must fail at once", f.EndedAt.Sub(f.StartedAt))
			}
		})
	}
}

// TestSagaCancelled: the workflow is cancelled while a step runs; the
// compensation activities still run (disconnected context), and so does a
// Finally step.
func TestSagaCancelled(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local actions %v", local), func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Second)
			res := runSaga(t, env, rec, sagaInput{
				Opts:    Options{LocalActions: local},
				Steps:   steps("a b c", map[string]func(*stepCfg){"b": sleeps(time.Minute)}),
				Finally: "publish",
			})
			if want := []string{"do:b"}; !reflect.DeepEqual(res.Plain, want) {
				t.Errorf("plain actions %q, want %q", res.Plain, want)
			}
			want := []string{"do:a", "undo:b", "undo:a", "fin:publish"}
			if !reflect.DeepEqual(rec.Calls(), want) {
				t.Errorf("activities %q, want %q", rec.Calls(), want)
			}
			if res.Kind != "aborted" || res.FailedStep != "b" || res.Cause != causeCancelled || res.Reason != ErrCancelled.Error() {
				t.Errorf("result %+v", res)
			}
			want2 := map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepPending, "publish": StepDone}
			if res.State.Status != StatusCompensated || !reflect.DeepEqual(statuses(res.State), want2) {
				t.Errorf("state %+v, want compensated with %v", res.State, want2)
			}
		})
	}
}

// TestSagaFinally: a Finally step is recorded in the state like the others,
// runs as a regular activity whatever the mode, and neither changes the
// saga's status nor is compensated when it fails.
func TestSagaFinally(t *testing.T) {
	cases := []struct {
		name     string
		opts     Options
		steps    []stepCfg
		finFail  bool
		calls    []string
		status   string
		finState string
	}{
		{"after completion", Options{}, steps("a b", nil), false,
			[]string{"do:a@regular", "do:b@regular", "fin:publish@regular"}, StatusCompleted, StepDone},
		{"after compensation", Options{}, steps("a b", map[string]func(*stepCfg){"b": fails}), false,
			[]string{"do:a@regular", "do:b@regular", "undo:b@regular", "undo:a@regular", "fin:publish@regular"}, StatusCompensated, StepDone},
		{"regular activity in local mode", Options{LocalActions: true}, steps("a b", nil), false,
			[]string{"do:a@local", "do:b@local", "fin:publish@regular"}, StatusCompleted, StepDone},
		{"failing", Options{}, steps("a b", nil), true,
			[]string{"do:a@regular", "do:b@regular", "fin:publish@regular"}, StatusCompleted, StepFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{finFail: tc.finFail}
			env := newSagaEnv(rec)
			res := runSaga(t, env, rec, sagaInput{Opts: tc.opts, Steps: tc.steps, Finally: "publish"})
			if got := rec.Kinds(); !reflect.DeepEqual(got, tc.calls) {
				t.Errorf("calls\n got  %q\n want %q", got, tc.calls)
			}
			st := res.State
			if st.Status != tc.status || st.Step != "" {
				t.Errorf("state %+v, want %s", st, tc.status)
			}
			last := st.Steps[len(st.Steps)-1]
			if len(st.Steps) != len(tc.steps)+1 || last.Name != "publish" || last.Status != tc.finState || last.StartedAt.IsZero() || last.EndedAt.IsZero() {
				t.Errorf("steps %+v, want publish last with status %s", st.Steps, tc.finState)
			}
			wantErr := ""
			if tc.finFail {
				wantErr = "PublishError: no broker"
			}
			if res.FinallyErr != wantErr || last.Error != wantErr {
				t.Errorf("Finally error %q, step error %q, want %q", res.FinallyErr, last.Error, wantErr)
			}
		})
	}
}

// TestSagaLocalActions: with LocalActions the actions run as local
// activities, with their own options; the compensations run as regular
// activities.
func TestSagaLocalActions(t *testing.T) {
	cases := []struct {
		name  string
		opts  Options
		steps []stepCfg
		calls []string
	}{
		{"regular by default", Options{}, steps("a b c", map[string]func(*stepCfg){"c": fails}),
			[]string{"do:a@regular", "do:b@regular", "do:c@regular", "undo:c@regular", "undo:b@regular", "undo:a@regular"}},
		{"local actions, regular compensations", Options{LocalActions: true}, steps("a b c", map[string]func(*stepCfg){"c": fails}),
			[]string{"do:a@local", "do:b@local", "do:c@local", "undo:c@regular", "undo:b@regular", "undo:a@regular"}},
		{"local and parallel", Options{LocalActions: true, Parallel: true}, steps("a b", map[string]func(*stepCfg){"b": fails}),
			[]string{"do:a@local", "do:b@local", "undo:a@regular", "undo:b@regular"}}, // compensations as a set
		{"local actions retried with the step's options", Options{LocalActions: true},
			steps("a b", map[string]func(*stepCfg){"a": func(c *stepCfg) { c.ActFlaky, c.ActAttempts = 2, 5 }}),
			[]string{"do:a@local", "do:a@local", "do:a@local", "do:b@local"}},
		{"local action out of attempts", Options{LocalActions: true},
			steps("a b c", map[string]func(*stepCfg){"b": func(c *stepCfg) { c.ActRetryable, c.ActAttempts = true, 3 }}),
			[]string{"do:a@local", "do:b@local", "do:b@local", "do:b@local", "undo:b@regular", "undo:a@regular"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			res := runSaga(t, env, rec, sagaInput{Opts: tc.opts, Steps: tc.steps})
			if got := rec.Kinds(); !sameCalls(got, tc.calls, tc.opts.Parallel) {
				t.Errorf("calls\n got  %q\n want %q", got, tc.calls)
			}
			wantKind := "ok"
			if strings.Contains(strings.Join(tc.calls, " "), "undo:") {
				wantKind = "aborted"
			}
			if res.Kind != wantKind {
				t.Errorf("result %+v, want %s", res, wantKind)
			}
		})
	}
}

// TestSagaStepOptions: a step's own activity options replace the context's
// for its action, and its compensation options replace the engine's.
func TestSagaStepOptions(t *testing.T) {
	t.Run("action options", func(t *testing.T) {
		rec := &recorder{}
		env := newSagaEnv(rec)
		res := runSaga(t, env, rec, sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){
			// a is retried by its own options; c has the context's (1 attempt).
			"a": func(c *stepCfg) { c.ActFlaky, c.ActAttempts = 2, 4 },
			"c": func(c *stepCfg) { c.ActFlaky = 1 },
		})})
		want := []string{"do:a", "do:a", "do:a", "do:b", "do:c", "undo:c", "undo:b", "undo:a"}
		if got := rec.Calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls\n got  %q\n want %q", got, want)
		}
		if res.FailedStep != "c" || res.Reason != "Unavailable: c unavailable" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("compensation options", func(t *testing.T) {
		rec := &recorder{}
		env := newSagaEnv(rec)
		ops := []op{{at: time.Hour, update: UpdateResolve, args: []any{"done by hand"}}}
		schedule(t, env, rec, ops)
		res := runSaga(t, env, rec, sagaInput{Steps: steps("a b", map[string]func(*stepCfg){
			"a": func(c *stepCfg) { c.CompFail, c.CompRetryable, c.CompAttempts = "UndoError", true, 2 },
			"b": fails,
		})})
		checkOps(t, ops)
		want := []string{"do:a", "do:b", "undo:b", "undo:a", "undo:a"}
		if got := rec.Calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls\n got  %q\n want %q", got, want)
		}
		if !reflect.DeepEqual(res.Resolved, []string{"a"}) {
			t.Errorf("result %+v, want a resolved", res)
		}
	})
	t.Run("CompensationTimeout bounds the retries", func(t *testing.T) {
		rec := &recorder{}
		env := newSagaEnv(rec)
		ops := []op{{at: time.Hour, update: UpdateResolve, args: []any{"done by hand"}}}
		schedule(t, env, rec, ops)
		// Retried until the CompensationTimeout (its ScheduleToClose) passes:
		// attempts at 0, 0.2, 0.6, 1.4, 3, 6.2, 12.6, 25.4 and 51 s; the next
		// one (30 s later) would start after 1 minute.
		res := runSaga(t, env, rec, sagaInput{Opts: Options{CompensationTimeout: time.Minute}, Steps: steps("a b", map[string]func(*stepCfg){
			"a": func(c *stepCfg) { c.CompFail, c.CompRetryable = "UndoError", true },
			"b": fails,
		})})
		checkOps(t, ops)
		want := append([]string{"do:a", "do:b", "undo:b"}, slices.Repeat([]string{"undo:a"}, 9)...)
		if got := rec.Calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls\n got  %q\n want %q", got, want)
		}
		if res.Kind != "aborted" || !reflect.DeepEqual(res.Resolved, []string{"a"}) {
			t.Errorf("result %+v", res)
		}
	})
}

// TestSagaSearchAttributes: the engine upserts only when the saga's status
// changes, SagaStatus with SagaStep when the step differs from the last one
// upserted: the first step with running (and Options.SearchAttributes), the
// last step with completed, the failed step with compensating, the step
// whose compensation failed with compensation_failed, the failed step again
// with compensated. Neither the steps in progress, the compensations nor a
// Finally step upsert.
func TestSagaSearchAttributes(t *testing.T) {
	slowB := func(c *stepCfg) { c.Slow, c.ActStartToClose = true, 10*time.Minute }
	cases := []struct {
		name    string
		in      sagaInput
		slow    time.Duration
		ops     []op
		started bool // the workflow starts with SagaStatus running
		want    []map[string]string
	}{
		{
			name: "completed",
			in:   sagaInput{Steps: steps("a b c", nil)},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompleted, "c")},
		},
		{
			name: "the business keys with the first status only",
			in:   sagaInput{Steps: steps("a b c", nil), Keys: map[string]string{"OrderId": "o-1", "CustomerId": "c-1"}},
			want: []map[string]string{upsert(StatusRunning, "a", "OrderId", "o-1", "CustomerId", "c-1"), upsert(StatusCompleted, "c")},
		},
		{
			name: "the business keys when the first step fails",
			in:   sagaInput{Steps: steps("a b", map[string]func(*stepCfg){"a": fails}), Keys: map[string]string{"OrderId": "o-1"}},
			want: []map[string]string{upsert(StatusRunning, "a", "OrderId", "o-1"), upsert(StatusCompensating, ""), upsert(StatusCompensated, "")},
		},
		{
			name:    "started running: no first upsert, nor the business keys",
			in:      sagaInput{Steps: steps("a b c", nil), Keys: map[string]string{"OrderId": "o-1"}},
			started: true,
			want:    []map[string]string{upsert(StatusCompleted, "c")},
		},
		{
			name:    "started running, compensated",
			in:      sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": fails})},
			started: true,
			want:    []map[string]string{upsert(StatusCompensating, "b"), upsert(StatusCompensated, "")},
		},
		{
			name: "one step: its name once",
			in:   sagaInput{Steps: steps("a", nil)},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompleted, "")},
		},
		{
			name: "compensated",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"c": fails})},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "c"), upsert(StatusCompensated, "")},
		},
		{
			name: "compensated in parallel",
			in:   sagaInput{Opts: Options{Parallel: true}, Steps: steps("a b c", map[string]func(*stepCfg){"b": fails})},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "b"), upsert(StatusCompensated, "")},
		},
		{
			name: "compensation failed, retried once fixed",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails})},
			ops:  []op{{at: time.Hour, fix: []string{"b"}, update: UpdateRetryCompensation}},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "c"), upsert(StatusCompensationFailed, "b"),
				upsert(StatusCompensating, ""), upsert(StatusCompensated, "c")},
		},
		{
			name: "compensation failed, retried while broken, then resolved",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails})},
			ops: []op{{at: time.Hour, update: UpdateRetryCompensation},
				{at: 2 * time.Hour, update: UpdateResolve, args: []any{"refunded by hand"}}},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "c"), upsert(StatusCompensationFailed, "b"),
				upsert(StatusCompensating, ""), upsert(StatusCompensationFailed, ""), upsert(StatusCompensating, ""), upsert(StatusCompensated, "c")},
		},
		{
			name: "the failed step's own compensation fails, resolved",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": both(fails, compFails)})},
			ops:  []op{{at: time.Hour, update: UpdateResolve, args: []any{"refunded by hand"}}},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "b"), upsert(StatusCompensationFailed, ""),
				upsert(StatusCompensating, ""), upsert(StatusCompensated, "")},
		},
		{
			name: "ContinueWithError: the first failed compensation is the step",
			in:   sagaInput{Opts: Options{ContinueWithError: true}, Steps: steps("a b c", map[string]func(*stepCfg){"a": compFails, "b": compFails, "c": fails})},
			ops:  []op{{at: time.Hour, fix: []string{"a", "b"}, update: UpdateRetryCompensation}},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "c"), upsert(StatusCompensationFailed, "b"),
				upsert(StatusCompensating, ""), upsert(StatusCompensated, "c")},
		},
		{
			name: "aborted",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": sleeps(time.Hour)})},
			ops:  []op{{at: 30 * time.Minute, update: UpdateCompensate, args: []any{"customer asked"}}},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "b"), upsert(StatusCompensated, "")},
		},
		{
			name: "cancelled",
			in:   sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){"b": sleeps(time.Hour)})},
			ops:  []op{{at: 30 * time.Minute, cancel: true}},
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "b"), upsert(StatusCompensated, "")},
		},
		{
			name: "saga timeout during a step",
			in:   sagaInput{Opts: Options{Timeout: time.Minute}, Steps: steps("a b c", map[string]func(*stepCfg){"b": slowB})},
			slow: 2 * time.Minute,
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "b"), upsert(StatusCompensated, "")},
		},
		{
			name: "saga timeout before a step begins",
			in:   sagaInput{Opts: Options{Timeout: time.Minute}, Steps: steps("a b c", map[string]func(*stepCfg){"b": slowB})},
			slow: time.Minute,
			want: []map[string]string{upsert(StatusRunning, "a"), upsert(StatusCompensating, "c"), upsert(StatusCompensated, "")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			if tc.slow > 0 {
				slowActions(env, rec, tc.slow)
			}
			sa := sagatest.WatchSearchAttributes(env)
			if tc.started {
				if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(SagaStatus.ValueSet(StatusRunning))); err != nil {
					t.Fatal(err)
				}
			}
			schedule(t, env, rec, tc.ops)
			tc.in.Finally = "fin"
			res := runSaga(t, env, rec, tc.in)
			checkOps(t, tc.ops)
			if res.State.Steps[len(res.State.Steps)-1].Status != StepDone {
				t.Errorf("Finally step %+v, want done", res.State.Steps[len(res.State.Steps)-1])
			}
			if got := sa.All(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("upserts\n got  %v\n want %v", got, tc.want)
			}
		})
	}
}

// upsert is an upsert of SagaStatus, with SagaStep unless step is "", and
// other Keyword attributes as name, value pairs.
func upsert(status, step string, more ...string) map[string]string {
	m := map[string]string{SagaStatus.GetName(): status}
	if step != "" {
		m[SagaStep.GetName()] = step
	}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i]] = more[i+1]
	}
	return m
}

func TestNew(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, opts Options) (Options, error) {
		s, err := New(ctx, opts)
		if err != nil {
			return Options{}, err
		}
		// Wait for the query below: the saga is running, with no steps yet.
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return Options{}, err
		}
		return s.opts, nil
	}, workflow.RegisterOptions{Name: "New"})
	env.RegisterDelayedCallback(func() {
		if st := queryState(t, env); st.Status != StatusRunning || len(st.Steps) != 0 {
			t.Errorf("state before Run %+v", st)
		}
	}, time.Minute)
	env.ExecuteWorkflow("New", Options{Timeout: time.Minute, Parallel: true})
	var got Options
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if want := (Options{Timeout: time.Minute, CompensationTimeout: 10 * time.Minute, Parallel: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("options %+v, want %+v", got, want)
	}
}

func TestReason(t *testing.T) {
	app := temporal.NewNonRetryableApplicationError("only 1 left", "OutOfStockError", nil)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"application error", app, "OutOfStockError: only 1 left"},
		{"retryable application error", temporal.NewApplicationError("connection refused", "DBUnavailable"), "DBUnavailable: connection refused"},
		{"wrapped application error", fmt.Errorf("step reserve: %w", app), "OutOfStockError: only 1 left"},
		{"message already names the type", temporal.NewNonRetryableApplicationError("OutOfStockError: only 1 left", "OutOfStockError", nil),
			"OutOfStockError: only 1 left"},
		{"no type", temporal.NewApplicationError("no type here", ""), "no type here"},
		{"timeout", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil), "timeout: "},
		{"plain error", errors.New("boom"), "boom"},
		{"saga timeout", fmt.Errorf("%w (%s)", ErrTimeout, time.Minute), "saga timeout passed (1m0s)"},
		{"abort", fmt.Errorf("%w: %s", ErrAborted, "customer asked"), "aborted by operator: customer asked"},
		{"cancellation", ErrCancelled, "workflow cancelled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Reason(tc.err)
			if tc.name == "timeout" {
				if !strings.HasPrefix(got, tc.want) || !strings.Contains(got, "StartToClose") {
					t.Errorf("Reason() = %q, want %q… naming StartToClose", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("Reason() = %q, want %q", got, tc.want)
			}
			if strings.Count(got, "OutOfStockError") > 1 {
				t.Errorf("Reason() = %q doubles the type", got)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	cause := appErr("BoomError", "d failed")
	aborted := &AbortedError{Failure: Failure{Step: "d", Cause: cause}, Resolved: []string{"b"}}
	if !errors.Is(aborted, cause) || !strings.Contains(aborted.Error(), "step d failed") {
		t.Errorf("AbortedError %q does not name the step or unwrap to the cause", aborted)
	}
	undoErr := appErr("UndoError", "undo b failed")
	ce := &CompensationError{Step: "b", Attempts: 3, Err: undoErr}
	want := "SagaCompensationError: compensation of step b failed after 3 attempts: UndoError: undo b failed; the saga waits: " +
		"fix the cause, then send the Update retry-compensation, or resolve with a reason when fixed by hand"
	if got := ce.Error(); got != want {
		t.Errorf("CompensationError =\n %q\nwant\n %q", got, want)
	}
	if !errors.Is(ce, undoErr) {
		t.Error("CompensationError does not unwrap to the compensation's error")
	}
}
