package saga

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// TestSagaRunsOnce: a saga value runs once. A second Run and a Finally
// before Run are refused with an InvalidSaga error and run nothing; the
// saga's own run, before or after, is not disturbed (the steps of a second
// Run or an early Finally used to shift the step index, so that a
// compensation ran another step's undo or indexed out of range).
func TestSagaRunsOnce(t *testing.T) {
	failB := steps("a b", map[string]func(*stepCfg){"b": fails})
	cases := []struct {
		name  string
		calls []string // the activities that ran, in order
		run   func(ctx workflow.Context, s *Saga, do func([]stepCfg) error) (misuse error)
	}{
		{"Finally before Run", []string{"do:a", "do:b", "undo:b", "undo:a"},
			func(ctx workflow.Context, s *Saga, do func([]stepCfg) error) error {
				misuse := s.Finally(ctx, "early", Activity(finName, "early"))
				if err := do(failB); !errors.As(err, new(*AbortedError)) {
					return fmt.Errorf("Run after the refused Finally: %v, want *AbortedError", err)
				}
				return misuse
			}},
		{"Run twice", []string{"do:a", "do:b", "undo:b", "undo:a"},
			func(ctx workflow.Context, s *Saga, do func([]stepCfg) error) error {
				if err := do(failB); !errors.As(err, new(*AbortedError)) {
					return fmt.Errorf("first Run: %v, want *AbortedError", err)
				}
				return do(steps("c d", map[string]func(*stepCfg){"d": fails}))
			}},
		{"Run twice after success", []string{"do:a", "do:b"},
			func(ctx workflow.Context, s *Saga, do func([]stepCfg) error) error {
				if err := do(steps("a b", nil)); err != nil {
					return fmt.Errorf("first Run: %v", err)
				}
				return do(steps("c", map[string]func(*stepCfg){"c": fails}))
			}},
		{"Run twice with the same names", []string{"do:a", "do:b"},
			func(ctx workflow.Context, s *Saga, do func([]stepCfg) error) error {
				if err := do(steps("a b", nil)); err != nil {
					return fmt.Errorf("first Run: %v", err)
				}
				return do(steps("a b", nil))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) {
				ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
					StartToCloseTimeout: 10 * time.Second,
					RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
				})
				s, err := New(ctx, Options{})
				if err != nil {
					return "", err
				}
				do := func(cfg []stepCfg) error {
					var st []Step
					for _, c := range cfg {
						st = append(st, Step{Name: c.Name, Action: Activity(actName, c), Compensate: Undo(undoName, c)})
					}
					return s.Run(ctx, st...)
				}
				misuse := tc.run(ctx, s, do)
				var app *temporal.ApplicationError
				if !errors.As(misuse, &app) || app.Type() != "InvalidSaga" || !app.NonRetryable() {
					return "", fmt.Errorf("misuse returned %v, want a non-retryable InvalidSaga error", misuse)
				}
				return app.Message(), nil
			}, workflow.RegisterOptions{Name: "Misuse"})
			env.ExecuteWorkflow("Misuse")
			var msg string
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if err := env.GetWorkflowResult(&msg); err != nil {
				t.Fatal(err)
			}
			t.Log(msg)
			if got := rec.Calls(); !reflect.DeepEqual(got, tc.calls) {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
		})
	}
}

// logRecorder is a log.Logger that keeps the key-value pairs of its Error
// lines.
type logRecorder struct {
	nopLogger
	mu     sync.Mutex
	errors [][]any
}

func (l *logRecorder) Error(_ string, keyvals ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, keyvals)
}

// TestCompensationErrorKeepsCause: the CompensationError of a failed
// compensation wraps the compensation's own error, so errors.As finds its
// ApplicationError and type (it was rebuilt from the error's text).
func TestCompensationErrorKeepsCause(t *testing.T) {
	rec := &recorder{}
	env := newSagaEnv(rec)
	logs := &logRecorder{}
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in sagaInput) (sagaResult, error) {
		in.Opts.Logger = logs
		return sagaWorkflow(ctx, in)
	}, workflow.RegisterOptions{Name: "Logged"})
	ops := []op{{at: time.Hour, update: UpdateResolve, args: []any{"undone by hand"}}}
	schedule(t, env, rec, ops)
	env.ExecuteWorkflow("Logged", sagaInput{Steps: steps("a b", map[string]func(*stepCfg){"a": compFails, "b": fails})})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	checkOps(t, ops)
	if len(logs.errors) != 1 {
		t.Fatalf("error lines %v, want one", logs.errors)
	}
	var logged error
	for i := 0; i+1 < len(logs.errors[0]); i += 2 {
		if logs.errors[0][i] == "error" {
			logged, _ = logs.errors[0][i+1].(error)
		}
	}
	var ce *CompensationError
	var app *temporal.ApplicationError
	if !errors.As(logged, &ce) || ce.Step != "a" || !errors.As(ce, &app) || app.Type() != "UndoError" {
		t.Fatalf("logged error %#v: want a CompensationError of step a wrapping the UndoError", logs.errors[0])
	}
}
