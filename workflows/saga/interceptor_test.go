package saga

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

// overTheWire is err as a workflow sees it: converted to a failure by the
// worker and back by the workflow.
func overTheWire(err error) error {
	fc := temporal.GetDefaultFailureConverter()
	return fc.FailureToError(fc.ErrorToFailure(err))
}

type customError struct{ msg string }

func (e *customError) Error() string { return e.msg }

func TestWithAttempt(t *testing.T) {
	cause := errors.New("connection reset")
	cases := []struct {
		name         string
		err          error
		msg, errType string
		nonRetryable bool
	}{
		{"non-retryable application error", temporal.NewNonRetryableApplicationError("only 1 left", "OutOfStockError", cause),
			"only 1 left", "OutOfStockError", true},
		{"retryable application error", temporal.NewApplicationError("connection refused", "DBUnavailable"),
			"connection refused", "DBUnavailable", false},
		{"application error without type", temporal.NewApplicationError("no type", ""), "no type", "", false},
		{"custom error", &customError{"disk full"}, "disk full", "customError", false},
		{"wrapped error", fmt.Errorf("insert order: %w", &customError{"disk full"}), "insert order: disk full", "wrapError", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, attempt := range []int32{1, 7} {
				got := withAttempt(tc.err, attempt)
				var app *temporal.ApplicationError
				if !errors.As(got, &app) {
					t.Fatalf("withAttempt(%v) = %T, want an ApplicationError", tc.err, got)
				}
				if app.Message() != tc.msg || app.Type() != tc.errType || app.NonRetryable() != tc.nonRetryable {
					t.Errorf("WithAttempt: message %q type %q non-retryable %v; want %q %q %v",
						app.Message(), app.Type(), app.NonRetryable(), tc.msg, tc.errType, tc.nonRetryable)
				}
				if n := Attempts(got); n != attempt {
					t.Errorf("Attempts(withAttempt(err, %d)) = %d", attempt, n)
				}
				// As the workflow sees it: decoded, inside an ActivityError.
				wire := fmt.Errorf("activity error (type: Act): %w", overTheWire(got))
				if n := Attempts(wire); n != attempt {
					t.Errorf("Attempts over the wire = %d, want %d (%v)", n, attempt, wire)
				}
				if Reason(overTheWire(got)) != Reason(overTheWire(tc.err)) {
					t.Errorf("Reason changed by WithAttempt: %q, without %q", Reason(overTheWire(got)), Reason(overTheWire(tc.err)))
				}
				if errors.Unwrap(tc.err) != nil && errors.Unwrap(got) != errors.Unwrap(tc.err) {
					t.Errorf("cause %v, want %v", errors.Unwrap(got), errors.Unwrap(tc.err))
				}
			}
		})
	}

	t.Run("retry options preserved", func(t *testing.T) {
		err := temporal.NewApplicationErrorWithOptions("slow down", "RateLimited", temporal.ApplicationErrorOptions{
			NextRetryDelay: 3 * time.Second, Category: temporal.ApplicationErrorCategoryBenign,
		})
		var app *temporal.ApplicationError
		if !errors.As(withAttempt(err, 2), &app) || app.NextRetryDelay() != 3*time.Second || app.Category() != temporal.ApplicationErrorCategoryBenign {
			t.Errorf("WithAttempt lost the next retry delay or the category: %+v", app)
		}
	})

	t.Run("unchanged", func(t *testing.T) {
		canceled := temporal.NewCanceledError("stop")
		for _, err := range []error{nil, context.Canceled, fmt.Errorf("query: %w", context.Canceled), canceled} {
			if got := withAttempt(err, 3); got != err {
				t.Errorf("withAttempt(%v) = %v, want it unchanged", err, got)
			}
		}
	})
}

// TestWithAttemptPlainError: the SDK names a plain errors.New error with
// no type; WithAttempt should too, or every Reason of such an error gains
// an "errorString: " prefix once the worker's interceptor runs.
func TestWithAttemptPlainError(t *testing.T) {
	err := errors.New("boom")
	if got, want := Reason(overTheWire(withAttempt(err, 1))), Reason(overTheWire(err)); got != want {
		t.Errorf("Reason %q with WithAttempt, %q without", got, want)
	}
}

// TestWithAttemptKeepsDetails: details an activity put in its error reach
// the workflow.
func TestWithAttemptKeepsDetails(t *testing.T) {
	err := temporal.NewNonRetryableApplicationError("only 1 left", "OutOfStockError", nil, "sku-a", 1)
	var app *temporal.ApplicationError
	if !errors.As(overTheWire(withAttempt(err, 2)), &app) {
		t.Fatal("not an ApplicationError")
	}
	var sku string
	var left int
	if app.Details(&sku, &left) != nil || sku != "sku-a" || left != 1 {
		t.Errorf("the error's own details are replaced by the attempt (got %q %d)", sku, left)
	}
}

func TestAttempts(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"nil", nil},
		{"plain error", errors.New("boom")},
		{"application error without details", temporal.NewApplicationError("boom", "Boom")},
		{"application error with other details, over the wire", overTheWire(temporal.NewApplicationError("boom", "Boom", "detail"))},
		{"timeout", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)},
	} {
		if n := Attempts(tc.err); n != 0 {
			t.Errorf("%s: Attempts = %d, want 0", tc.name, n)
		}
	}
}

// TestAttemptsOtherDetails: an ApplicationError made in workflow code (a
// plain action or compensation) with details of its own.
func TestAttemptsOtherDetails(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Attempts panics on an error whose details are not an attempt: %v", r)
		}
	}()
	if n := Attempts(temporal.NewNonRetryableApplicationError("boom", "Boom", nil, "sku-a")); n != 0 {
		t.Errorf("Attempts = %d, want 0", n)
	}
}

// TestSagaAttemptsReported: with the package's interceptor, the state reports
// how many attempts a failed action and a failed compensation took, and
// SagaCompensationError says it; compensation attempts add up over
// operator retries.
func TestSagaAttemptsReported(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local actions %v", local), func(t *testing.T) {
			rec := &recorder{}
			env := newSagaEnv(rec)
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{NewInterceptor()}})
			compensationFailed := func(attempts int32, calls int) func(*testing.T, State, []string) {
				return func(t *testing.T, st State, got []string) {
					a := stepState(t, st, "a")
					want := fmt.Sprintf("SagaCompensationError: compensation of step a failed after %d attempts: UndoError: undo a failed", attempts)
					if st.Status != StatusCompensationFailed || a.CompensationAttempts != attempts || !strings.HasPrefix(st.Error, want) {
						t.Errorf("state %+v, want compensation_failed with %d attempts of a (%q)", st, attempts, want)
					}
					if len(got) != calls {
						t.Errorf("calls so far %q, want %d", got, calls)
					}
				}
			}
			ops := []op{
				{at: time.Hour, update: UpdateRetryCompensation, check: compensationFailed(3, 4+3+1+3)},
				{at: 2 * time.Hour, update: UpdateRetryCompensation, fix: []string{"a"}, check: compensationFailed(6, 4+3+1+6)},
			}
			schedule(t, env, rec, ops)
			res := runSaga(t, env, rec, sagaInput{Opts: Options{LocalActions: local}, Steps: steps("a b c", map[string]func(*stepCfg){
				"a": func(c *stepCfg) {
					c.ActFlaky, c.ActAttempts = 3, 5
					c.CompFail, c.CompRetryable, c.CompAttempts = "UndoError", true, 3
				},
				"b": func(c *stepCfg) { c.ActRetryable, c.ActAttempts = true, 3 },
			})})
			checkOps(t, ops)
			if res.Kind != "aborted" || res.FailedStep != "b" || res.State.Status != StatusCompensated {
				t.Fatalf("result %+v", res)
			}
			a, b := stepState(t, res.State, "a"), stepState(t, res.State, "b")
			if b.Attempts != 3 || b.Error != "Unavailable: b unavailable" || b.CompensationAttempts != 1 {
				t.Errorf("step b %+v, want 3 attempts", b)
			}
			// (a's action succeeded at its 4th attempt; a success carries no
			// attempt number, so a.Attempts is not checked.)
			if a.CompensationAttempts != 7 || a.Status != StepCompensated || a.CompensationError != "" {
				t.Errorf("step a %+v, want 7 compensation attempts in all", a)
			}
		})
	}
}
