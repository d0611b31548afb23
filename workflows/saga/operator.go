package saga

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Query and Update names.
const (
	QueryState              = "state"              // the saga's State
	UpdateCompensate        = "compensate"         // with a reason: abort a running saga
	UpdateRetryCompensation = "retry-compensation" // run the failed compensations again, then the rest
	UpdateResolve           = "resolve"            // with a reason: the failed compensations were fixed by hand
)

// Statuses of a saga, as QueryState and the SagaStatus search attribute
// report them.
const (
	StatusRunning            = "running"
	StatusCompensating       = "compensating"
	StatusCompensationFailed = "compensation_failed"
	StatusCompleted          = "completed"
	StatusCompensated        = "compensated"
)

// Statuses of a step.
const (
	StepPending            = "pending"
	StepRunning            = "running"
	StepDone               = "done"
	StepFailed             = "failed"
	StepCompensating       = "compensating"
	StepCompensated        = "compensated"
	StepCompensationFailed = "compensation_failed"
	StepResolved           = "resolved" // compensation failed, fixed by an operator
)

// StepState is one step as QueryState reports it.
type StepState struct {
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Attempts  int32     `json:"attempts,omitempty"`
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`

	CompensationAttempts int32     `json:"compensation_attempts,omitempty"`
	CompensationError    string    `json:"compensation_error,omitempty"`
	CompensatedAt        time.Time `json:"compensated_at,omitzero"`
	Resolution           string    `json:"resolution,omitempty"` // the operator's reason
}

// State is a saga's progress.
type State struct {
	Status     string      `json:"status"`
	Step       string      `json:"step,omitempty"`        // the step in progress
	Reason     string      `json:"reason,omitempty"`      // why the saga compensates
	FailedStep string      `json:"failed_step,omitempty"` // the step that made it compensate
	Error      string      `json:"error,omitempty"`       // SagaCompensationError while compensation_failed
	Steps      []StepState `json:"steps"`
	UpdatedAt  time.Time   `json:"updated_at,omitzero"`
}

// State returns a copy of the saga's progress.
func (s *Saga) State() State {
	st := s.state
	st.Steps = slices.Clone(s.state.Steps)
	return st
}

// register sets the query and Update handlers on the workflow.
func (s *Saga) register(ctx workflow.Context) error {
	update := func(name string, handler, validator any) error {
		return workflow.SetUpdateHandlerWithOptions(ctx, name, handler, workflow.UpdateHandlerOptions{Validator: validator})
	}
	return errors.Join(
		workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return s.State(), nil }),
		update(UpdateCompensate, s.onAbort, s.validateAbort),
		update(UpdateRetryCompensation, s.onRetry, s.validateRetry),
		update(UpdateResolve, s.onResolve, s.validateResolve),
	)
}

func (s *Saga) validateAbort(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("a reason is required to abort a saga")
	}
	if s.cancelRun == nil || s.abort != "" {
		return fmt.Errorf("saga is %s: only a running saga can be aborted", s.state.Status)
	}
	return nil
}

func (s *Saga) onAbort(_ workflow.Context, reason string) error {
	s.abort = reason
	s.logger.Warn("operator aborts the saga", "step", s.state.Step, "reason", reason)
	s.cancelRun()
	return nil
}

// waiting refuses an Update unless the saga waits for an operator.
func (s *Saga) waiting(update string) error {
	if s.state.Status != StatusCompensationFailed || s.op != nil {
		return fmt.Errorf("saga is %s: %s applies to a saga in %s", s.state.Status, update, StatusCompensationFailed)
	}
	return nil
}

func (s *Saga) validateRetry() error { return s.waiting(UpdateRetryCompensation) }

func (s *Saga) onRetry(workflow.Context) error {
	s.op = new(string)
	return nil
}

func (s *Saga) validateResolve(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("a reason is required to resolve a compensation by hand")
	}
	return s.waiting(UpdateResolve)
}

func (s *Saga) onResolve(_ workflow.Context, reason string) error {
	s.op = &reason
	return nil
}
