package workflows

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/codec"
	"github.com/fedsaga/fedsaga/config"
)

// testKeyID is the id under which the integration test stack encrypts
// payloads with testdata/codec-test.key (test data, not a secret).
const testKeyID = "test-2026"

// replayer returns a replayer of the order saga that decodes payloads with
// the keyring keys (key id to key file in testdata).
func replayer(t *testing.T, keys map[string]string) worker.WorkflowReplayer {
	t.Helper()
	ring := map[string]config.KeySource{}
	for id, file := range keys {
		ring[id] = config.KeySource{File: filepath.Join("testdata", file)}
	}
	var opts worker.WorkflowReplayerOptions
	c, err := codec.Load(config.Codec{Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		opts.DataConverter = codec.DataConverter(c)
		opts.FailureConverter = codec.FailureConverter(opts.DataConverter)
	}
	r, err := worker.NewWorkflowReplayerWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterWorkflowWithOptions((&Orders{}).PlaceOrder, workflow.RegisterOptions{Name: PlaceOrderName})
	return r
}

// TestReplayRecordedHistories replays histories of real order sagas
// (recorded by `go test ./test -args -record-histories`) against the
// current code. A change that would break sagas already running fails here:
// ship it behind workflow.GetVersion, or as a new Worker Deployment version.
// The *_encrypted histories hold payloads encrypted with the test stack's
// key; the others were recorded before payload encryption, in plaintext,
// and replay through the same codec unchanged.
func TestReplayRecordedHistories(t *testing.T) {
	// compensated_local: saga.mode = "local", every undo a local activity;
	// compensated_local_regular_undo: recorded before localUndoChange, the
	// first undo a regular activity.
	want := []string{"happy", "compensated", "aborted", "compensation_failed_retried", "compensation_failed_resolved",
		"happy_encrypted", "compensated_local", "compensated_local_regular_undo"}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			r := replayer(t, map[string]string{testKeyID: "codec-test.key"})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", name+".json")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReplayEncryptedNeedsKey: the encrypted history is ciphertext:
// without its key the replay fails, and its payloads name the key id.
func TestReplayEncryptedNeedsKey(t *testing.T) {
	path := filepath.Join("testdata", "happy_encrypted.json")
	for name, keys := range map[string]map[string]string{
		"no codec":    nil,
		"another key": {"other": "customer-id-test.key"},
	} {
		if err := replayer(t, keys).ReplayWorkflowHistoryFromJSONFile(nil, path); err == nil {
			t.Errorf("%s: the replay passed; want it to fail", name)
		}
	}
	hist := readHistory(t, path)
	input := hist.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	other, err := codec.Load(config.Codec{Keys: map[string]config.KeySource{"other": {File: filepath.Join("testdata", "customer-id-test.key")}}})
	if err != nil {
		t.Fatal(err)
	}
	var in PlaceOrderInput
	var unknown *codec.UnknownKeyError
	if err := codec.DataConverter(other).FromPayloads(input, &in); !errors.As(err, &unknown) || unknown.KeyID != testKeyID {
		t.Errorf("input with another keyring: %v; want an UnknownKeyError naming %s", err, testKeyID)
	}
	if strings.Contains(string(input.GetPayloads()[0].GetData()), "cust-") {
		t.Error("the recorded input holds the customer id in plaintext")
	}
}

// TestReplayInputAcceptedBeforeTheLimits: a saga started before the input
// limits of package spec, with an input they refuse (a customer id with a
// space) but the earlier checks accepted, replays as it ran instead of
// failing where its history has the saga's steps.
func TestReplayInputAcceptedBeforeTheLimits(t *testing.T) {
	hist := readHistory(t, filepath.Join("testdata", "happy.json"))
	dc := converter.GetDefaultDataConverter()
	started := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
	var in PlaceOrderInput
	if err := dc.FromPayloads(started.GetInput(), &in); err != nil {
		t.Fatal(err)
	}
	in.CustomerID = "Jane Doe"
	if in.Validate() == nil || in.validBefore() != nil {
		t.Fatalf("input %+v: want refused by the limits and accepted by the earlier checks", in)
	}
	payloads, err := dc.ToPayloads(in)
	if err != nil {
		t.Fatal(err)
	}
	started.Input = payloads
	if err := replayer(t, nil).ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay of a saga started before the limits: %v", err)
	}
}

// readHistory reads a history exported with `temporal workflow show
// --output json`.
func readHistory(t *testing.T, path string) *historypb.History {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hist
}
