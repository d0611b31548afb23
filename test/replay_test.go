package test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fedsaga/fedsaga/config"
	fedworker "github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

// testKeyID is the id of the payload key of the test stack, in
// workflows/testdata/codec-test.key.
const testKeyID = "test-2026"

// testdataFile is the absolute path of a file of workflows/testdata.
func testdataFile(name string) string {
	path, err := filepath.Abs(filepath.Join("..", "workflows", "testdata", name))
	if err != nil {
		panic(err)
	}
	return path
}

var recordHistories = flag.Bool("record-histories", false,
	"also write the replayed histories to workflows/testdata (run when the order saga changes on purpose)")

// replay replays a finished saga's history against the current workflow code:
// a change that breaks running sagas fails here. With -record-histories it
// also stores the history as workflows/testdata/<name>.json, where the
// workflows package's replay test keeps checking it.
// In local mode (saga.mode = "local") the name gets the suffix _local.
func (s *Stack) replay(t *testing.T, name, orderID string) {
	t.Helper()
	if s.Config.Saga.Mode == config.ModeLocal {
		name += "_local"
	}
	ctx := context.Background()
	hist := &historypb.History{}
	it := s.Temporal.GetWorkflowHistory(ctx, workflows.OrderWorkflowID(orderID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	// Marshalled before the replay: the replayer merges upserted search
	// attributes into the started event's, in place.
	recorded, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	// The replayer decodes as the stack's clients do.
	opts, err := fedworker.ClientOptions(s.Config, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter: opts.DataConverter, FailureConverter: opts.FailureConverter,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterWorkflowWithOptions((&workflows.Orders{}).PlaceOrder, workflow.RegisterOptions{Name: workflows.PlaceOrderName})
	if err := r.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay of %s (%d events): %v", name, len(hist.Events), err)
	}
	if !*recordHistories {
		return
	}
	path := testdataFile(name + ".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(recorded, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s", path)
}
