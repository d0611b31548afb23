package starter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// fakeClient answers the calls List and Handle make; any other call panics
// (the embedded nil client).
type fakeClient struct {
	client.Client
	executions []*workflowpb.WorkflowExecutionInfo
	state      func(orderID string) (*State, error)

	mu       sync.Mutex
	queried  []string
	inFlight atomic.Int32
	maxIn    atomic.Int32

	getCtx context.Context
	getID  string
}

func (f *fakeClient) ListWorkflow(_ context.Context, _ *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.executions}, nil
}

func (f *fakeClient) QueryWorkflow(_ context.Context, workflowID, _, queryType string, _ ...any) (converter.EncodedValue, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxIn.Load(); n > m && !f.maxIn.CompareAndSwap(m, n); m = f.maxIn.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	if queryType != saga.QueryState {
		return nil, fmt.Errorf("query %q", queryType)
	}
	orderID := strings.TrimPrefix(workflowID, workflows.OrderWorkflowID(""))
	f.mu.Lock()
	f.queried = append(f.queried, orderID)
	f.mu.Unlock()
	st, err := f.state(orderID)
	if err != nil {
		return nil, err
	}
	p, err := converter.GetDefaultDataConverter().ToPayloads(st)
	if err != nil {
		return nil, err
	}
	return client.NewValue(p), nil
}

func (f *fakeClient) GetWorkflow(ctx context.Context, workflowID, _ string) client.WorkflowRun {
	f.getCtx, f.getID = ctx, workflowID
	return doneRun{}
}

type doneRun struct{ client.WorkflowRun }

func (doneRun) Get(context.Context, any) error { return nil }

// execution is the visibility record of an order saga.
func execution(t *testing.T, orderID, status, step string, exec enums.WorkflowExecutionStatus) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	fields := map[string]*commonpb.Payload{}
	for k, v := range map[string]string{
		workflows.OrderIDKey.GetName(): orderID, workflows.CustomerIDKey.GetName(): "alice",
		saga.SagaStatus.GetName(): status, saga.SagaStep.GetName(): step,
	} {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		fields[k] = p
	}
	e := &workflowpb.WorkflowExecutionInfo{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: workflows.OrderWorkflowID(orderID), RunId: "run-" + orderID},
		Status:           exec,
		StartTime:        timestamppb.New(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields},
	}
	if exec != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		e.CloseTime = timestamppb.New(time.Date(2026, 12, 2, 10, 0, 1, 0, time.UTC))
	}
	return e
}

// TestListReportsStateQueryErrors: the step in progress of running sagas
// comes from the state query, a bounded number at once; a failed query is
// reported in the saga's Summary, not dropped; finished sagas and sagas
// waiting for an operator are not queried.
func TestListReportsStateQueryErrors(t *testing.T) {
	running := enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	f := &fakeClient{
		executions: []*workflowpb.WorkflowExecutionInfo{
			execution(t, "broken", saga.StatusRunning, "validate", running),
			execution(t, "failed", saga.StatusCompensationFailed, "charge_payment", running),
			execution(t, "done", saga.StatusCompleted, "confirm_order", enums.WORKFLOW_EXECUTION_STATUS_COMPLETED),
		},
		state: func(orderID string) (*State, error) {
			if orderID == "broken" {
				return nil, errors.New("no poller seen for task queue recently")
			}
			return &State{Status: saga.StatusRunning, Step: "charge_payment"}, nil
		},
	}
	for i := range 3 * stateQueries {
		f.executions = append(f.executions, execution(t, fmt.Sprint("ok-", i), saga.StatusRunning, "validate", running))
	}
	got, err := List(context.Background(), f, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(f.executions) {
		t.Fatalf("List returned %d sagas, want %d", len(got), len(f.executions))
	}
	byOrder := map[string]Summary{}
	for _, s := range got {
		byOrder[s.OrderID] = s
	}
	if s := byOrder["broken"]; s.Step != "validate" || !strings.Contains(s.Error, "no poller seen") {
		t.Errorf("saga whose query failed: %+v; want Step from SagaStep and the query's error", s)
	}
	if s := byOrder["ok-0"]; s.Step != "charge_payment" || s.Error != "" {
		t.Errorf("running saga: %+v; want the step in progress from the query", s)
	}
	if s := byOrder["failed"]; s.Step != "charge_payment" || s.Error != "" {
		t.Errorf("compensation_failed saga: %+v", s)
	}
	for _, id := range f.queried {
		if id == "done" || id == "failed" {
			t.Errorf("queried saga %s (finished or waiting for an operator)", id)
		}
	}
	if want := 1 + 3*stateQueries; len(f.queried) != want {
		t.Errorf("%d state queries, want %d", len(f.queried), want)
	}
	if m := f.maxIn.Load(); m > stateQueries || m < 2 {
		t.Errorf("at most %d state queries ran at once, want 2 to %d", m, stateQueries)
	}
}

func TestSummarize(t *testing.T) {
	got := summarize(execution(t, "ord-1", saga.StatusCompleted, "confirm_order", enums.WORKFLOW_EXECUTION_STATUS_COMPLETED))
	want := Summary{
		OrderID: "ord-1", CustomerID: "alice", WorkflowID: "order-ord-1", RunID: "run-ord-1",
		Status: saga.StatusCompleted, Step: "confirm_order", Execution: "completed",
		StartedAt: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), ClosedAt: time.Date(2026, 12, 2, 10, 0, 1, 0, time.UTC),
	}
	if got != want {
		t.Errorf("summarize =\n%+v\nwant\n%+v", got, want)
	}
}

// TestOrderUsesTheCallersContext: a Handle from Order reaches Temporal with
// the context given to Result (its deadline, cancellation and values), not
// with one of its own.
func TestOrderUsesTheCallersContext(t *testing.T) {
	f := &fakeClient{}
	h := Order(f, "ord-1")
	if f.getCtx != nil {
		t.Fatal("Order called Temporal before Result")
	}
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "caller")
	if _, err := h.Result(ctx); err != nil {
		t.Fatal(err)
	}
	if f.getCtx == nil || f.getCtx.Value(key{}) != "caller" || f.getID != "order-ord-1" {
		t.Errorf("GetWorkflow(%v, %q): want the caller's context and order-ord-1", f.getCtx, f.getID)
	}
}
