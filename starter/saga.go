package starter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// State is a saga's progress, as its "state" query reports it.
type State = saga.State

var (
	// ErrUnknownSaga: no saga runs or ran for that order id.
	ErrUnknownSaga = errors.New("unknown saga")
	// ErrWrongState: the operator's action does not fit the saga's state;
	// nothing changed.
	ErrWrongState = errors.New("action refused")
)

// SagaState queries an order saga's state; it works on running and
// finished sagas.
func SagaState(ctx context.Context, c client.Client, orderID string) (*State, error) {
	id := workflows.OrderWorkflowID(orderID)
	v, err := c.QueryWorkflow(ctx, id, "", saga.QueryState)
	if err != nil {
		return nil, sagaErr(orderID, err)
	}
	var st State
	if err := v.Get(&st); err != nil {
		return nil, fmt.Errorf("saga %s: decode state: %w", id, err)
	}
	return &st, nil
}

// Abort makes a running saga compensate, with the operator's reason.
func Abort(ctx context.Context, c client.Client, orderID, reason string) error {
	return update(ctx, c, orderID, saga.UpdateCompensate, reason)
}

// RetryCompensation runs the failed compensations of a saga in
// compensation_failed again.
func RetryCompensation(ctx context.Context, c client.Client, orderID string) error {
	return update(ctx, c, orderID, saga.UpdateRetryCompensation)
}

// Resolve marks the failed compensations of a saga in compensation_failed as
// fixed by hand, with the operator's reason; the saga goes on compensating
// the remaining steps.
func Resolve(ctx context.Context, c client.Client, orderID, reason string) error {
	return update(ctx, c, orderID, saga.UpdateResolve, reason)
}

func update(ctx context.Context, c client.Client, orderID, name string, args ...any) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.OrderWorkflowID(orderID),
		UpdateName:   name,
		Args:         args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// Updates find only running sagas: say so when it has finished.
		desc, derr := c.DescribeWorkflowExecution(ctx, workflows.OrderWorkflowID(orderID), "")
		if derr == nil && desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
			return fmt.Errorf("%w: saga %s has finished (%s): nothing to %s; see `fedsaga saga status %s`",
				ErrWrongState, workflows.OrderWorkflowID(orderID),
				executionStatus(desc.GetWorkflowExecutionInfo().GetStatus()), name, orderID)
		}
	}
	return sagaErr(orderID, err)
}

func sagaErr(orderID string, err error) error {
	if err == nil {
		return nil
	}
	id := workflows.OrderWorkflowID(orderID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: no saga for order %s (workflow %s); find sagas with `fedsaga saga list`", ErrUnknownSaga, orderID, id)
	}
	// An Update's validator refuses with an application error that says why.
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return fmt.Errorf("%w: saga %s: %s; see `fedsaga saga status %s`", ErrWrongState, id, app.Message(), orderID)
	}
	return fmt.Errorf("saga %s: %w", id, err)
}

// Filter selects sagas for List.
type Filter struct {
	// Status keeps sagas with this SagaStatus (running, compensating,
	// compensation_failed, completed, compensated); "" keeps all.
	Status string
	// Stuck keeps unfinished sagas (running, compensating or
	// compensation_failed) started more than OlderThan ago.
	Stuck     bool
	OlderThan time.Duration
	// Customer keeps the sagas of this customer id, found through the
	// CustomerId search attribute as CustomerAttribute says it is stored
	// (the starters' Customer option); "" keeps all.
	Customer          string
	CustomerAttribute CustomerAttribute
	// Limit caps the result; default 100.
	Limit int
}

// Summary is one saga in a List.
type Summary struct {
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Status     string    `json:"status"` // SagaStatus
	Step       string    `json:"step"`   // SagaStep
	Execution  string    `json:"execution"`
	StartedAt  time.Time `json:"started_at"`
	ClosedAt   time.Time `json:"closed_at,omitzero"`
	// Error says why the state query of a running saga failed; Step is then
	// the step the search attribute SagaStep names, which may be behind.
	Error string `json:"error,omitempty"`
}

// StatusCompensationFailed is the status of a saga whose compensation failed:
// it waits for an operator (RetryCompensation or Resolve).
const StatusCompensationFailed = saga.StatusCompensationFailed

// Statuses a Filter may name.
var Statuses = []string{saga.StatusRunning, saga.StatusCompensating, saga.StatusCompensationFailed, saga.StatusCompleted, saga.StatusCompensated}

// Query is the visibility query of a filter.
func (f Filter) Query(now time.Time) (string, error) {
	q := []string{"WorkflowType = '" + workflows.PlaceOrderName + "'"}
	if f.Status != "" {
		if !slices.Contains(Statuses, f.Status) {
			return "", fmt.Errorf("status %q: want one of %s", f.Status, strings.Join(Statuses, ", "))
		}
		q = append(q, "SagaStatus = '"+f.Status+"'")
	}
	if f.Customer != "" {
		value, ok, err := f.CustomerAttribute.Value(f.Customer)
		switch {
		case err != nil:
			return "", err
		case !ok:
			return "", errors.New("customer: sagas carry no CustomerId search attribute (codec.customer_id_attribute is none)")
		case strings.ContainsAny(value, `'"\`):
			return "", fmt.Errorf("customer %q: quotes and backslashes are not allowed", f.Customer)
		}
		q = append(q, "CustomerId = '"+value+"'")
	}
	if f.Stuck {
		if f.OlderThan <= 0 {
			return "", errors.New("older-than: want a positive duration with stuck")
		}
		q = append(q, "ExecutionStatus = 'Running'",
			"(SagaStatus = 'running' OR SagaStatus = 'compensating' OR SagaStatus = 'compensation_failed')",
			"StartTime < '"+now.Add(-f.OlderThan).UTC().Format(time.RFC3339Nano)+"'")
	}
	return strings.Join(q, " AND "), nil
}

// stateQueries bounds the state queries one List runs at once.
const stateQueries = 8

// maxListPage is the largest page List asks the server for.
const maxListPage = 1000

// List finds order sagas through Temporal's visibility store. For sagas
// still running, Step is the step in progress, read with the state query
// (at most stateQueries at once); a saga whose query fails keeps the step
// of its search attribute and says why in Error. A saga in
// compensation_failed is not queried: it waits for an operator, and
// SagaStep names its failed step.
func List(ctx context.Context, c client.Client, f Filter) ([]Summary, error) {
	query, err := f.Query(time.Now())
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []Summary
	var token []byte
	for len(out) < limit {
		page := limit - len(out) // > 0 in the loop
		if page > maxListPage {
			page = maxListPage
		}
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: int32(page), NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list sagas (%s): %w", query, err)
		}
		for _, e := range resp.GetExecutions() {
			out = append(out, summarize(e))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	var g errgroup.Group
	g.SetLimit(stateQueries)
	for i := range out {
		s := &out[i]
		if s.Execution != executionStatus(enums.WORKFLOW_EXECUTION_STATUS_RUNNING) || s.OrderID == "" || s.Status == saga.StatusCompensationFailed {
			continue
		}
		g.Go(func() error {
			// SagaStep is upserted only when the status changes; the step
			// in progress comes from the saga itself.
			st, err := SagaState(ctx, c, s.OrderID)
			switch {
			case err != nil:
				s.Error = fmt.Sprintf("state query: %v", err)
			case st.Step != "":
				s.Step = st.Step
			}
			return nil
		})
	}
	_ = g.Wait() // every error is in its saga's Summary
	return out, nil
}

// summarize reads a saga's Summary from its visibility record.
func summarize(e *workflowpb.WorkflowExecutionInfo) Summary {
	s := Summary{
		WorkflowID: e.GetExecution().GetWorkflowId(),
		RunID:      e.GetExecution().GetRunId(),
		Execution:  executionStatus(e.GetStatus()),
		StartedAt:  e.GetStartTime().AsTime(),
	}
	if e.GetCloseTime() != nil {
		s.ClosedAt = e.GetCloseTime().AsTime()
	}
	fields := e.GetSearchAttributes().GetIndexedFields()
	for key, dst := range map[string]*string{
		saga.SagaStatus.GetName(): &s.Status, saga.SagaStep.GetName(): &s.Step,
		workflows.OrderIDKey.GetName(): &s.OrderID, workflows.CustomerIDKey.GetName(): &s.CustomerID,
	} {
		if p, ok := fields[key]; ok {
			_ = converter.GetDefaultDataConverter().FromPayload(p, dst)
		}
	}
	return s
}

func executionStatus(s enums.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}
