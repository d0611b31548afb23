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
	// QueryState returns the saga's State.
	QueryState = "state"
	// UpdateCompensate, with a reason, aborts a running saga: it compensates.
	UpdateCompensate = "compensate"
	// UpdateRetryCompensation runs the failed compensations of a saga in
	// compensation_failed again, then those not run yet.
	UpdateRetryCompensation = "retry-compensation"
	// UpdateResolve, with a reason, marks the failed compensations of a saga
	// in compensation_failed resolved by hand; the saga goes on with the rest.
	UpdateResolve = "resolve"
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

// operatorAction is an operator's answer to compensation_failed.
type operatorAction struct {
	retry  bool
	reason string // resolve's reason
}

// register sets the query and Update handlers on the workflow.
func (s *Saga) register(ctx workflow.Context) error {
	err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return s.State(), nil })
	for _, u := range []struct {
		name              string
		handler, validate any
	}{
		{UpdateCompensate, s.onAbort, s.validateAbort},
		{UpdateRetryCompensation, s.onRetry, s.validateRetry},
		{UpdateResolve, s.onResolve, s.validateResolve},
	} {
		err = errors.Join(err, workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validate}))
	}
	return err
}

func (s *Saga) validateAbort(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("a reason is required to abort a saga")
	}
	if !s.forward || s.abort != "" {
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

// waiting refuses an Update that needs a saga in compensation_failed with
// no operator action pending.
func (s *Saga) waiting(update string) error {
	if s.state.Status != StatusCompensationFailed || s.op != nil {
		return fmt.Errorf("saga is %s: %s applies to a saga in %s", s.state.Status, update, StatusCompensationFailed)
	}
	return nil
}

func (s *Saga) validateRetry() error { return s.waiting(UpdateRetryCompensation) }

func (s *Saga) onRetry(workflow.Context) error {
	s.op = &operatorAction{retry: true}
	return nil
}

func (s *Saga) validateResolve(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("a reason is required to resolve a compensation by hand")
	}
	return s.waiting(UpdateResolve)
}

func (s *Saga) onResolve(_ workflow.Context, reason string) error {
	s.op = &operatorAction{reason: reason}
	return nil
}
