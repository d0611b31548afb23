package saga

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
)

var (
	// ErrTimeout is the cause of a saga that ran out of Options.Timeout.
	ErrTimeout = errors.New("saga timeout passed")
	// ErrAborted is the cause of a saga an operator aborted.
	ErrAborted = errors.New("aborted by operator")
	// ErrCancelled is the cause of a saga whose workflow was cancelled.
	ErrCancelled = errors.New("workflow cancelled")
)

// invalid is the error of a misused saga.
func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError("saga: "+msg, "InvalidSaga", nil)
}

// AbortedError is returned by Run when the saga compensated.
type AbortedError struct {
	Failure
	// Resolved lists the steps whose compensation an operator resolved.
	Resolved []string
}

func (e *AbortedError) Error() string {
	return fmt.Sprintf("saga compensated after step %s failed: %v", e.Step, e.Cause)
}

func (e *AbortedError) Unwrap() error { return e.Cause }

// CompensationError (SagaCompensationError) is a compensation that failed
// after its retries, which leaves the saga waiting for an operator.
type CompensationError struct {
	Step     string // the step whose compensation failed
	Attempts int32  // attempts of the failed compensation, across operator retries
	Err      error
}

func (e *CompensationError) Error() string {
	return fmt.Sprintf("SagaCompensationError: compensation of step %s failed after %d attempts: %s; the saga waits: "+
		"fix the cause, then send the Update %s, or %s with a reason when fixed by hand",
		e.Step, e.Attempts, Reason(e.Err), UpdateRetryCompensation, UpdateResolve)
}

func (e *CompensationError) Unwrap() error { return e.Err }

// Reason turns a step's error into a short human reason: the application
// error's type and message when there is one ("OutOfStockError: ...").
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() != "" && !strings.HasPrefix(app.Message(), app.Type()+":") {
			return app.Type() + ": " + app.Message()
		}
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timeout: " + timeout.Error()
	}
	return err.Error()
}

// Attempts reads the attempt number the interceptor put in an activity's
// error; 0 when it is not there (a timeout, or no interceptor).
func Attempts(err error) (n int32) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.HasDetails() {
		return 0
	}
	// Details made in workflow code hold Go values that may not fit
	// attemptDetail; decoding them panics instead of failing: n stays 0.
	defer func() { _ = recover() }()
	var d attemptDetail
	if app.Details(&d) != nil {
		return 0
	}
	return d.Attempt
}
