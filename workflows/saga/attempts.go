package saga

import (
	"context"
	"errors"
	"reflect"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// attemptDetail is carried in the details of a failed activity's error, so
// the workflow knows how many attempts the activity took.
type attemptDetail struct {
	Attempt int32 `json:"attempt"`
}

// WithAttempt returns err as an ApplicationError (same message, type and
// retryability) whose details carry the activity's attempt number. The
// worker applies it to every activity failure (an activity interceptor), so
// that the saga's state and SagaCompensationError can report attempts.
// Cancellations pass through unchanged.
func WithAttempt(err error, attempt int32) error {
	if err == nil || errors.Is(err, context.Canceled) || temporal.IsCanceledError(err) ||
		errors.Is(err, activity.ErrResultPending) {
		return err
	}
	detail := attemptDetail{Attempt: attempt}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app == err {
		if app.HasDetails() {
			return err // its own details stay; the attempt is unknown then
		}
		return temporal.NewApplicationErrorWithOptions(app.Message(), app.Type(), temporal.ApplicationErrorOptions{
			NonRetryable:   app.NonRetryable(),
			Cause:          app.Unwrap(),
			Details:        []any{detail},
			NextRetryDelay: app.NextRetryDelay(),
			Category:       app.Category(),
		})
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typeName(err), temporal.ApplicationErrorOptions{
		Cause:   errors.Unwrap(err),
		Details: []any{detail},
	})
}

// Attempts reads the attempt number WithAttempt put in an activity's
// error; 0 when it is not there (a timeout, for example).
func Attempts(err error) (n int32) {
	var app *temporal.ApplicationError
	if err == nil || !errors.As(err, &app) || !app.HasDetails() {
		return 0
	}
	// Details made in workflow code hold Go values that may not fit
	// attemptDetail; decoding them panics instead of failing.
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	var d attemptDetail
	if app.Details(&d) != nil {
		return 0
	}
	return d.Attempt
}

// typeName names the error's type as the SDK does: its Go type name, and
// "" for errors.New's errorString.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "errorString" {
		return ""
	}
	return t.Name()
}
