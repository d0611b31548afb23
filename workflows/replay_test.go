package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays histories of real order sagas
// (recorded by `go test ./test -args -record-histories`) against the
// current code. A change that would break sagas already running fails here:
// ship it behind workflow.GetVersion, or as a new Worker Deployment version.
func TestReplayRecordedHistories(t *testing.T) {
	want := []string{"happy", "compensated", "aborted", "compensation_failed_retried", "compensation_failed_resolved"}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions((&Orders{}).PlaceOrder, workflow.RegisterOptions{Name: PlaceOrderName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", name+".json")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
