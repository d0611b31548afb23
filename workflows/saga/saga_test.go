package saga

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// ---------------------------------------------------------------------------
// a tiny workflow that runs a saga built from its input

// stepCfg describes one step of the test saga. By default the action and
// the compensation are the activities "Act" and "Undo"; PlainAction and
// PlainComp make them workflow functions instead.
type stepCfg struct {
	Name        string
	NoComp      bool
	PlainAction bool
	PlainComp   bool
	Fail        string        // the action fails with this (non-retryable) error type
	CompFail    string        // the compensation fails with this (non-retryable) error type
	CompFlaky   int           // the Undo activity fails retryably this many times first
	Sleep       time.Duration // a plain action sleeps this long first (workflow time)
}

type sagaInput struct {
	Opts  Options
	Steps []stepCfg
}

type sagaResult struct {
	Kind       string // ok, aborted, compensation, other
	FailedStep string // Failure.Step
	Reason     string // Reason(Failure.Cause)
	TimedOut   bool   // errors.Is(Failure.Cause, ErrTimeout)
	CompStep   string // CompensationError.Step
	Error      string
	Plain      []string // calls of the plain functions, in order
	State      State
}

const (
	actName  = "Act"
	undoName = "Undo"
	testWF   = "SagaTest"
)

func appErr(errType, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}

func sagaWorkflow(ctx workflow.Context, in sagaInput) (sagaResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	s := New(in.Opts)
	if err := workflow.SetQueryHandler(ctx, "state", func() (State, error) { return s.State(), nil }); err != nil {
		return sagaResult{}, err
	}
	var res sagaResult
	steps := make([]Step, len(in.Steps))
	for i, c := range in.Steps {
		st := Step{Name: c.Name}
		if c.PlainAction {
			st.Action = func(ctx workflow.Context) error {
				res.Plain = append(res.Plain, "do:"+c.Name)
				if c.Sleep > 0 {
					if err := workflow.Sleep(ctx, c.Sleep); err != nil {
						return err
					}
				}
				if c.Fail != "" {
					return appErr(c.Fail, c.Name+" failed")
				}
				return nil
			}
		} else {
			st.Action = Activity(actName, c)
		}
		switch {
		case c.NoComp:
		case c.PlainComp:
			st.Compensate = func(ctx workflow.Context, f Failure) error {
				res.Plain = append(res.Plain, fmt.Sprintf("undo:%s(%s)", c.Name, f.Step))
				// A compensation runs in a context that is not cancelled.
				if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
					return err
				}
				if c.CompFail != "" {
					return appErr(c.CompFail, "undo "+c.Name+" failed")
				}
				return nil
			}
		default:
			st.Compensate = Undo(undoName, c)
		}
		steps[i] = st
	}

	err := s.Run(ctx, steps...)
	var aborted *AbortedError
	var compErr *CompensationError
	switch {
	case err == nil:
		res.Kind = "ok"
	case errors.As(err, &compErr):
		res.Kind = "compensation"
		res.CompStep = compErr.Step
		res.FailedStep = compErr.Failure.Step
		res.Reason = Reason(compErr.Cause)
	case errors.As(err, &aborted):
		res.Kind = "aborted"
		res.FailedStep = aborted.Step
		res.Reason = Reason(aborted.Cause)
		res.TimedOut = errors.Is(aborted.Cause, ErrTimeout)
	default:
		res.Kind = "other"
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.State = s.State()
	return res, nil
}

// recorder is the Act and Undo activities; it records "do:NAME" and
// "undo:NAME" in call order.
type recorder struct {
	mu    sync.Mutex
	calls []string
	// undoHook runs in Undo after the call is recorded.
	undoHook func(ctx context.Context, c stepCfg)
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recorder) act(ctx context.Context, c stepCfg) error {
	r.add("do:" + c.Name)
	if c.Fail != "" {
		return appErr(c.Fail, c.Name+" failed")
	}
	return nil
}

func (r *recorder) undo(ctx context.Context, c stepCfg) error {
	r.add("undo:" + c.Name)
	if r.undoHook != nil {
		r.undoHook(ctx, c)
	}
	if c.CompFail != "" {
		return appErr(c.CompFail, "undo "+c.Name+" failed")
	}
	if int(activity.GetInfo(ctx).Attempt) <= c.CompFlaky {
		return temporal.NewApplicationError("undo "+c.Name+" flaked", "Flaky")
	}
	return nil
}

func newSagaEnv(rec *recorder) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(20 * time.Second)
	env.RegisterWorkflowWithOptions(sagaWorkflow, workflow.RegisterOptions{Name: testWF})
	env.RegisterActivityWithOptions(rec.act, activity.RegisterOptions{Name: actName})
	env.RegisterActivityWithOptions(rec.undo, activity.RegisterOptions{Name: undoName})
	return env
}

func runSaga(t *testing.T, env *testsuite.TestWorkflowEnvironment, in sagaInput) sagaResult {
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
	return res
}

func statuses(st State) map[string]string {
	m := map[string]string{}
	for _, s := range st.Steps {
		m[s.Name] = s.Status
	}
	return m
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

func fails(c *stepCfg)     { c.Fail = "BoomError" }
func compFails(c *stepCfg) { c.CompFail = "UndoError" }
func noComp(c *stepCfg)    { c.NoComp = true }

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
		compStep   string
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
			steps:     steps("a b", map[string]func(*stepCfg){"b": func(c *stepCfg) { fails(c); noComp(c) }}),
			wantCalls: []string{"do:a", "do:b", "undo:a"},
			kind:      "aborted", failedStep: "b", reason: "BoomError: b failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepFailed},
		},
		{
			name:      "default stops at the first failing compensation",
			steps:     steps("a b c d", map[string]func(*stepCfg){"b": compFails, "d": fails}),
			wantCalls: []string{"do:a", "do:b", "do:c", "do:d", "undo:d", "undo:c", "undo:b"},
			kind:      "compensation", failedStep: "d", reason: "BoomError: d failed", compStep: "b",
			status:     StatusCompensationFailed,
			stepStates: map[string]string{"a": StepDone, "b": StepCompFailed, "c": StepCompensated, "d": StepCompensated},
		},
		{
			name:      "ContinueWithError runs the remaining compensations",
			opts:      Options{ContinueWithError: true},
			steps:     steps("a b c d", map[string]func(*stepCfg){"c": compFails, "d": fails}),
			wantCalls: []string{"do:a", "do:b", "do:c", "do:d", "undo:d", "undo:c", "undo:b", "undo:a"},
			kind:      "compensation", failedStep: "d", reason: "BoomError: d failed", compStep: "c",
			status:     StatusCompensationFailed,
			stepStates: map[string]string{"a": StepCompensated, "b": StepCompensated, "c": StepCompFailed, "d": StepCompensated},
		},
		{
			name:      "ContinueWithError reports the first of several failing compensations",
			opts:      Options{ContinueWithError: true},
			steps:     steps("a b c", map[string]func(*stepCfg){"a": compFails, "b": compFails, "c": fails}),
			wantCalls: []string{"do:a", "do:b", "do:c", "undo:c", "undo:b", "undo:a"},
			kind:      "compensation", failedStep: "c", reason: "BoomError: c failed", compStep: "b",
			status:     StatusCompensationFailed,
			stepStates: map[string]string{"a": StepCompFailed, "b": StepCompFailed, "c": StepCompensated},
		},
		{
			name: "failing step's own compensation fails",
			steps: steps("a b", map[string]func(*stepCfg){"b": func(c *stepCfg) {
				fails(c)
				compFails(c)
			}}),
			wantCalls: []string{"do:a", "do:b", "undo:b"},
			kind:      "compensation", failedStep: "b", reason: "BoomError: b failed", compStep: "b",
			status:     StatusCompensationFailed,
			stepStates: map[string]string{"a": StepDone, "b": StepCompFailed},
		},
		{
			name:      "a compensation is retried until it succeeds",
			steps:     steps("a b", map[string]func(*stepCfg){"a": func(c *stepCfg) { c.CompFlaky = 2 }, "b": fails}),
			wantCalls: []string{"do:a", "do:b", "undo:b", "undo:a", "undo:a", "undo:a"},
			kind:      "aborted", failedStep: "b", reason: "BoomError: b failed", status: StatusCompensated,
			stepStates: map[string]string{"a": StepCompensated, "b": StepCompensated},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			res := runSaga(t, env, sagaInput{Opts: tc.opts, Steps: tc.steps})
			if got := rec.Calls(); !reflect.DeepEqual(got, tc.wantCalls) {
				t.Errorf("calls\n got  %q\n want %q", got, tc.wantCalls)
			}
			if res.Kind != tc.kind || res.FailedStep != tc.failedStep || res.Reason != tc.reason || res.CompStep != tc.compStep {
				t.Errorf("result kind %q failed %q reason %q comp %q; want %q %q %q %q (error %s)",
					res.Kind, res.FailedStep, res.Reason, res.CompStep, tc.kind, tc.failedStep, tc.reason, tc.compStep, res.Error)
			}
			if tc.kind == "compensation" && !strings.HasPrefix(res.Error, "SagaCompensationError: compensation of step "+tc.compStep+" ") {
				t.Errorf("error %q", res.Error)
			}
			if res.State.Status != tc.status || res.State.Reason != tc.reason || res.State.Step != "" {
				t.Errorf("state %+v, want status %q reason %q", res.State, tc.status, tc.reason)
			}
			if got := statuses(res.State); !reflect.DeepEqual(got, tc.stepStates) {
				t.Errorf("step statuses %v, want %v", got, tc.stepStates)
			}
			for _, s := range res.State.Steps {
				if s.Name == tc.failedStep && !strings.Contains(s.Error, s.Name+" failed") {
					t.Errorf("failed step %s has error %q", s.Name, s.Error)
				}
				if s.Status == StepCompFailed && !strings.Contains(s.Error, "undo "+s.Name+" failed") {
					t.Errorf("step %s has error %q", s.Name, s.Error)
				}
			}
			// The state the query reports once the workflow is done.
			v, err := env.QueryWorkflow("state")
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			var q State
			if err := v.Get(&q); err != nil || q.Status != tc.status || !reflect.DeepEqual(statuses(q), tc.stepStates) {
				t.Errorf("queried state %+v (%v)", q, err)
			}
		})
	}
}

// TestSagaParallel: every registered compensation runs, at once; the order
// is not asserted, the set and the concurrency are.
func TestSagaParallel(t *testing.T) {
	cases := []struct {
		name     string
		steps    []stepCfg
		undos    []string
		kind     string
		compStep string
	}{
		{"all compensate", steps("a b c d", map[string]func(*stepCfg){"b": noComp, "d": fails}),
			[]string{"undo:a", "undo:c", "undo:d"}, "aborted", ""},
		{"a failing compensation does not stop the others", steps("a b c", map[string]func(*stepCfg){"b": compFails, "c": fails}),
			[]string{"undo:a", "undo:b", "undo:c"}, "compensation", "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var mu sync.Mutex
			inflight, maxInflight := 0, 0
			allIn := make(chan struct{})
			// Each Undo waits until all of them run (or 2 s pass): run one
			// after the other, they would never overlap.
			rec.undoHook = func(context.Context, stepCfg) {
				mu.Lock()
				inflight++
				maxInflight = max(maxInflight, inflight)
				if inflight == len(tc.undos) {
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
			env := newSagaEnv(rec)
			res := runSaga(t, env, sagaInput{Opts: Options{Parallel: true}, Steps: tc.steps})

			calls := rec.Calls()
			var do, undo []string
			for i, c := range calls {
				if strings.HasPrefix(c, "undo:") {
					undo = append(undo, c)
				} else {
					do = append(do, c)
					if len(undo) > 0 {
						t.Errorf("action %s ran after a compensation (calls %q, index %d)", c, calls, i)
					}
				}
			}
			slices.Sort(undo)
			if !reflect.DeepEqual(undo, tc.undos) {
				t.Errorf("compensations %q, want the set %q", undo, tc.undos)
			}
			if len(do) != len(tc.steps) {
				t.Errorf("actions %q", do)
			}
			mu.Lock()
			if maxInflight != len(tc.undos) {
				t.Errorf("at most %d compensations ran at once, want %d", maxInflight, len(tc.undos))
			}
			mu.Unlock()
			if res.Kind != tc.kind || res.CompStep != tc.compStep {
				t.Errorf("result %+v", res)
			}
			want := StatusCompensated
			if tc.compStep != "" {
				want = StatusCompensationFailed
			}
			if res.State.Status != want {
				t.Errorf("state %+v, want %s", res.State, want)
			}
		})
	}
}

// TestSagaPlainFunctions: actions and compensations that are workflow
// functions, not activities; a compensation gets the failure.
func TestSagaPlainFunctions(t *testing.T) {
	plain := func(c *stepCfg) { c.PlainAction, c.PlainComp = true, true }
	rec := &recorder{}
	env := newSagaEnv(rec)
	res := runSaga(t, env, sagaInput{Steps: steps("a b c d", map[string]func(*stepCfg){
		"a": plain, "b": func(c *stepCfg) { plain(c); c.NoComp = true }, "c": func(c *stepCfg) { plain(c); fails(c) }, "d": plain,
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
}

// TestSagaTimeout: the saga's timeout passes while a step runs; the
// compensations run, in a context that is not cancelled.
func TestSagaTimeout(t *testing.T) {
	cases := []struct {
		name      string
		sleep     time.Duration
		kind      string
		wantPlain []string
		wantCalls []string
	}{
		{"passes during step b", 2 * time.Minute, "aborted",
			[]string{"do:a", "do:b"}, []string{"undo:b", "undo:a"}},
		{"steps finish in time", 30 * time.Second, "ok",
			[]string{"do:a", "do:b", "do:c"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			plainAction := func(c *stepCfg) { c.PlainAction = true }
			res := runSaga(t, env, sagaInput{Opts: Options{Timeout: time.Minute}, Steps: steps("a b c", map[string]func(*stepCfg){
				"a": plainAction, "b": func(c *stepCfg) { plainAction(c); c.Sleep = tc.sleep }, "c": plainAction,
			})})
			if !reflect.DeepEqual(res.Plain, tc.wantPlain) || !reflect.DeepEqual(rec.Calls(), tc.wantCalls) {
				t.Errorf("actions %q compensations %q; want %q %q", res.Plain, rec.Calls(), tc.wantPlain, tc.wantCalls)
			}
			if res.Kind != tc.kind {
				t.Fatalf("result %+v, want %s", res, tc.kind)
			}
			if tc.kind == "aborted" {
				if !res.TimedOut || res.FailedStep != "b" || !strings.Contains(res.Reason, "saga timeout passed (1m0s)") {
					t.Errorf("result %+v, want a timeout of step b", res)
				}
				if ended := res.State.Steps[1].EndedAt.Sub(res.State.Steps[0].StartedAt); ended != time.Minute {
					t.Errorf("step b ended %v after the start, want 1m", ended)
				}
			}
		})
	}
}

// TestSagaCancelled: the workflow is cancelled while a step runs; the
// compensation activities still run (disconnected context).
func TestSagaCancelled(t *testing.T) {
	rec := &recorder{}
	env := newSagaEnv(rec)
	env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Second)
	plainAction := func(c *stepCfg) { c.PlainAction = true }
	res := runSaga(t, env, sagaInput{Steps: steps("a b c", map[string]func(*stepCfg){
		"a": plainAction, "b": func(c *stepCfg) { plainAction(c); c.Sleep = time.Minute }, "c": plainAction,
	})})
	if want := []string{"do:a", "do:b"}; !reflect.DeepEqual(res.Plain, want) {
		t.Errorf("actions %q, want %q", res.Plain, want)
	}
	if want := []string{"undo:b", "undo:a"}; !reflect.DeepEqual(rec.Calls(), want) {
		t.Errorf("compensations %q, want %q", rec.Calls(), want)
	}
	if res.Kind != "aborted" || res.FailedStep != "b" || res.TimedOut || !strings.HasPrefix(res.Reason, "saga cancelled") {
		t.Errorf("result %+v", res)
	}
	if res.State.Status != StatusCompensated {
		t.Errorf("state %+v", res.State)
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
	aborted := &AbortedError{Failure{Step: "d", Cause: cause}}
	if !errors.Is(aborted, cause) || !strings.Contains(aborted.Error(), "step d failed") {
		t.Errorf("AbortedError %q does not name the step or unwrap to the cause", aborted)
	}
	undoErr := appErr("UndoError", "undo b failed")
	ce := &CompensationError{Failure: Failure{Step: "d", Cause: cause}, Step: "b", RetryState: "RETRY_STATE_TIMEOUT", Err: undoErr}
	msg := ce.Error()
	for _, s := range []string{"SagaCompensationError", "compensation of step b", "RETRY_STATE_TIMEOUT", "undo b failed", "step d failed"} {
		if !strings.Contains(msg, s) {
			t.Errorf("CompensationError %q does not contain %q", msg, s)
		}
	}
	if !errors.Is(ce, undoErr) {
		t.Error("CompensationError does not unwrap to the compensation's error")
	}
	if got := New(Options{}).opts.CompensationTimeout; got != 10*time.Minute {
		t.Errorf("default CompensationTimeout %v", got)
	}
}
