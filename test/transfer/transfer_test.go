// Package transfer is a saga written outside fedsaga's workflows, from the
// saga package's documentation and public API alone: a money transfer that
// debits one account and credits another, on the SDK's test environment.
package transfer

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/workflows/saga"
)

// Input is a transfer of Cents from one account to another.
type Input struct {
	ID       string
	From, To string
	Cents    int64
	Local    bool // run the actions as local activities
}

// Transfer is the saga: debit From, then credit To; each step's
// compensation puts the money back.
func Transfer(ctx workflow.Context, in Input) error {
	var a *Accounts // only its methods' names are used
	s, err := saga.New(ctx, saga.Options{Timeout: time.Minute, LocalActions: in.Local})
	if err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: 3},
	})
	return s.Run(ctx,
		saga.Step{Name: "debit", Action: saga.Activity(a.Debit, in), Compensate: saga.Undo(a.UndoDebit, in)},
		saga.Step{Name: "credit", Action: saga.Activity(a.Credit, in), Compensate: saga.Undo(a.UndoCredit, in)},
	)
}

// Accounts is an in-memory ledger; its methods are the activities. A step
// that applied is remembered per transfer and operation, so every method is
// idempotent and an undo of a step that never applied does nothing.
type Accounts struct {
	mu       sync.Mutex
	balances map[string]int64
	applied  map[string]bool // "ID/op"
	calls    []string
	local    []string        // the calls that ran as local activities
	closed   map[string]bool // accounts that refuse credits
	down     bool            // Credit fails as infrastructure would, on every attempt
}

func (a *Accounts) do(ctx context.Context, in Input, op, account string, cents int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, op)
	if activity.GetInfo(ctx).IsLocalActivity {
		a.local = append(a.local, op)
	}
	undoes := map[string]string{"UndoDebit": "Debit", "UndoCredit": "Credit"}[op]
	if a.applied[in.ID+"/"+op] || (undoes != "" && !a.applied[in.ID+"/"+undoes]) {
		return nil // a duplicate, or an undo of a step that never applied
	}
	switch {
	case op == "Credit" && a.down:
		return temporal.NewApplicationError("ledger unreachable", "Unavailable")
	case op == "Credit" && a.closed[account]:
		return temporal.NewNonRetryableApplicationError("account "+account+" is closed", "AccountClosed", nil)
	case a.balances[account]+cents < 0:
		return temporal.NewNonRetryableApplicationError("insufficient funds in "+account, "InsufficientFunds", nil)
	}
	a.applied[in.ID+"/"+op] = true
	a.balances[account] += cents
	return nil
}

// Debit takes the money from the sender.
func (a *Accounts) Debit(ctx context.Context, in Input) error {
	return a.do(ctx, in, "Debit", in.From, -in.Cents)
}

// UndoDebit gives the sender the money back.
func (a *Accounts) UndoDebit(ctx context.Context, in Input) error {
	return a.do(ctx, in, "UndoDebit", in.From, in.Cents)
}

// Credit gives the money to the receiver.
func (a *Accounts) Credit(ctx context.Context, in Input) error {
	return a.do(ctx, in, "Credit", in.To, in.Cents)
}

// UndoCredit takes the money from the receiver again.
func (a *Accounts) UndoCredit(ctx context.Context, in Input) error {
	return a.do(ctx, in, "UndoCredit", in.To, -in.Cents)
}

func TestTransfer(t *testing.T) {
	cases := []struct {
		name     string
		cents    int64
		closed   bool // B refuses credits
		down     bool // the ledger fails every Credit attempt
		calls    []string
		local    []string // the calls that ran as local activities
		balances map[string]int64
		status   string            // the saga's final status
		steps    map[string]string // step statuses
		failed   string            // the step that made the saga compensate
		reason   string
	}{
		{name: "happy", cents: 30, calls: []string{"Debit", "Credit"},
			balances: map[string]int64{"A": 70, "B": 30}, status: saga.StatusCompleted,
			steps: map[string]string{"debit": saga.StepDone, "credit": saga.StepDone}},
		{name: "credit refused: both undone, credit's first", cents: 30, closed: true,
			calls:    []string{"Debit", "Credit", "UndoCredit", "UndoDebit"},
			balances: map[string]int64{"A": 100, "B": 0}, status: saga.StatusCompensated,
			steps:  map[string]string{"debit": saga.StepCompensated, "credit": saga.StepCompensated},
			failed: "credit", reason: "AccountClosed: account B is closed"},
		{name: "debit refused: its undo finds nothing to undo", cents: 300,
			calls:    []string{"Debit", "UndoDebit"},
			balances: map[string]int64{"A": 100, "B": 0}, status: saga.StatusCompensated,
			steps:  map[string]string{"debit": saga.StepCompensated, "credit": saga.StepPending},
			failed: "debit", reason: "InsufficientFunds: insufficient funds in A"},
		{name: "ledger down: credit retried, then undone", cents: 30, down: true,
			calls:    []string{"Debit", "Credit", "Credit", "Credit", "UndoCredit", "UndoDebit"},
			balances: map[string]int64{"A": 100, "B": 0}, status: saga.StatusCompensated,
			steps:  map[string]string{"debit": saga.StepCompensated, "credit": saga.StepCompensated},
			failed: "credit", reason: "Unavailable: ledger unreachable"},
	}
	for _, tc := range cases {
		for _, local := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/local %v", tc.name, local), func(t *testing.T) {
				a := &Accounts{balances: map[string]int64{"A": 100, "B": 0}, applied: map[string]bool{},
					closed: map[string]bool{"B": tc.closed}, down: tc.down}
				env := newEnv(a, true)
				env.ExecuteWorkflow(Transfer, Input{ID: "t-1", From: "A", To: "B", Cents: tc.cents, Local: local})
				err := env.GetWorkflowError()
				if tc.status == saga.StatusCompleted && err != nil {
					t.Fatalf("transfer failed: %v", err)
				}
				if tc.status == saga.StatusCompensated && err == nil {
					t.Fatal("transfer succeeded, want it compensated")
				}
				if !reflect.DeepEqual(a.calls, tc.calls) {
					t.Errorf("calls %q, want %q", a.calls, tc.calls)
				}
				// With LocalActions the actions run as local activities, the
				// compensations as regular ones.
				var wantLocal []string
				for _, c := range tc.calls {
					if local && (c == "Debit" || c == "Credit") {
						wantLocal = append(wantLocal, c)
					}
				}
				if !reflect.DeepEqual(a.local, wantLocal) {
					t.Errorf("local calls %q, want %q", a.local, wantLocal)
				}
				if !reflect.DeepEqual(a.balances, tc.balances) {
					t.Errorf("balances %v, want %v", a.balances, tc.balances)
				}
				st := state(t, env)
				got := map[string]string{}
				for _, s := range st.Steps {
					got[s.Name] = s.Status
				}
				if st.Status != tc.status || st.FailedStep != tc.failed || st.Reason != tc.reason || !reflect.DeepEqual(got, tc.steps) {
					t.Errorf("state %+v, want %s (failed step %q: %q) with steps %v", st, tc.status, tc.failed, tc.reason, tc.steps)
				}
			})
		}
	}
}

// TestTransferAttempts: with the saga package's interceptor in the worker,
// the state reports how many attempts a failed step took; without it, one.
func TestTransferAttempts(t *testing.T) {
	for _, tc := range []struct {
		interceptor bool
		want        int32
	}{{true, 3}, {false, 1}} {
		t.Run(fmt.Sprintf("interceptor %v", tc.interceptor), func(t *testing.T) {
			a := &Accounts{balances: map[string]int64{"A": 100}, applied: map[string]bool{}, down: true}
			env := newEnv(a, tc.interceptor)
			env.ExecuteWorkflow(Transfer, Input{ID: "t-2", From: "A", To: "B", Cents: 30})
			if env.GetWorkflowError() == nil {
				t.Fatal("transfer succeeded, want it compensated")
			}
			st := state(t, env)
			if credit := st.Steps[1]; credit.Name != "credit" || credit.Attempts != tc.want || credit.Error != "Unavailable: ledger unreachable" {
				t.Errorf("credit step %+v, want %d attempts", credit, tc.want)
			}
		})
	}
}

func newEnv(a *Accounts, withInterceptor bool) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	if withInterceptor {
		env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{saga.NewInterceptor()}})
	}
	env.RegisterWorkflow(Transfer)
	env.RegisterActivity(a)
	return env
}

func state(t *testing.T, env *testsuite.TestWorkflowEnvironment) saga.State {
	t.Helper()
	v, err := env.QueryWorkflow(saga.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st saga.State
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
