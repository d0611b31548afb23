package saga

import (
	"context"
	"errors"
	"reflect"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// The interceptor is worker code: it runs around activities, never in a
// workflow. Attempts, which workflow code calls, is in errors.go.

// NewInterceptor returns the worker interceptor a saga's worker registers
// (worker.Options.Interceptors): it puts the attempt number into every
// activity failure, regular or local, so that the saga's state and
// CompensationError report attempts (see Attempts).
func NewInterceptor() interceptor.WorkerInterceptor { return &attempts{} }

type attempts struct {
	interceptor.WorkerInterceptorBase
}

func (*attempts) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &attemptsInbound{interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type attemptsInbound struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *attemptsInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	return res, withAttempt(err, activity.GetInfo(ctx).Attempt)
}

// attemptDetail is carried in the details of a failed activity's error, so
// the workflow knows how many attempts the activity took.
type attemptDetail struct {
	Attempt int32 `json:"attempt"`
}

// withAttempt returns err as an ApplicationError (same message, type and
// retryability) whose details carry the activity's attempt number.
// Cancellations pass through unchanged.
func withAttempt(err error, attempt int32) error {
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
