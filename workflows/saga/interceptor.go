package saga

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// NewInterceptor returns the worker interceptor a saga's worker registers
// (worker.Options.Interceptors): it puts the attempt number into every
// activity failure, regular or local, so that the saga's state and
// CompensationError report attempts (see Attempts).
func NewInterceptor() interceptor.WorkerInterceptor { return &attempts{} }

// attempts is the worker interceptor and, below it, each activity's.
type attempts struct {
	interceptor.WorkerInterceptorBase
	interceptor.ActivityInboundInterceptorBase
}

func (*attempts) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &attempts{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

func (a *attempts) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
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
// Cancellations, and errors with details of their own, pass unchanged.
func withAttempt(err error, attempt int32) error {
	if err == nil || errors.Is(err, context.Canceled) || temporal.IsCanceledError(err) ||
		errors.Is(err, activity.ErrResultPending) {
		return err
	}
	opts := temporal.ApplicationErrorOptions{Cause: errors.Unwrap(err), Details: []any{attemptDetail{Attempt: attempt}}}
	app, ok := err.(*temporal.ApplicationError)
	if !ok { // named as the SDK names it, by its failure converter
		errType := temporal.GetDefaultFailureConverter().ErrorToFailure(err).GetApplicationFailureInfo().GetType()
		return temporal.NewApplicationErrorWithOptions(err.Error(), errType, opts)
	}
	if app.HasDetails() {
		return err
	}
	opts.NonRetryable, opts.NextRetryDelay, opts.Category = app.NonRetryable(), app.NextRetryDelay(), app.Category()
	return temporal.NewApplicationErrorWithOptions(app.Message(), app.Type(), opts)
}
