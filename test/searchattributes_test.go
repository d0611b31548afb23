package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fedsaga/fedsaga/worker"
)

// TestSearchAttributesUnmanaged: with temporal.manage_search_attributes =
// false, `fedsaga worker` on a namespace that lacks one of fedsaga's search
// attributes exits non-zero, naming it and the command that creates it;
// with it true (the default), an attribute of the wrong type stops it too.
func TestSearchAttributesUnmanaged(t *testing.T) {
	s := stack
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The stack's namespace has them all: the check passes.
	if added, err := worker.EnsureSearchAttributes(ctx, s.Temporal, s.Config.Temporal.Namespace, false); err != nil || len(added) > 0 {
		t.Fatalf("namespace %s with every attribute: %v, %v", s.Config.Temporal.Namespace, added, err)
	}

	// A fresh namespace with every attribute but the last.
	ns := strings.ToLower(uniq(t, "ns"))
	if _, err := s.Temporal.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	present, missing := worker.SearchAttributes[:len(worker.SearchAttributes)-1], worker.SearchAttributes[len(worker.SearchAttributes)-1]
	add := func(names []string, typ enums.IndexedValueType) {
		t.Helper()
		attrs := map[string]enums.IndexedValueType{}
		for _, n := range names {
			attrs[n] = typ
		}
		var err error
		for range 50 { // a new namespace takes a moment to be known everywhere
			if _, err = s.Temporal.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
				Namespace: ns, SearchAttributes: attrs,
			}); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("add search attributes %v to %s: %v", names, ns, err)
	}
	add(present, enums.INDEXED_VALUE_TYPE_KEYWORD)

	env := []string{"FEDSAGA_TEMPORAL__NAMESPACE=" + ns, "FEDSAGA_TEMPORAL__TASK_QUEUE=" + uniq(t, "queue")}
	r := fedsaga(t, append(env, "FEDSAGA_TEMPORAL__MANAGE_SEARCH_ATTRIBUTES=false"), "worker")
	create := "temporal operator search-attribute create --namespace " + ns + " --name " + missing + " --type Keyword"
	if r.code == 0 || !strings.Contains(r.stderr, "lacks the search attributes "+missing+" ") || !strings.Contains(r.stderr, create) {
		t.Errorf("unmanaged, %s missing: exit %d; want non-zero, naming it and %q:\n%s", missing, r.code, create, r.stderr)
	}
	for _, name := range present {
		if strings.Contains(r.stderr, "--name "+name+" ") {
			t.Errorf("the message asks to create %s, which the namespace has:\n%s", name, r.stderr)
		}
	}

	t.Logf("unmanaged:\n%s", r.stderr)

	// The missing attribute as an Int: a wrong type, which the worker
	// cannot fix even when it manages search attributes.
	add([]string{missing}, enums.INDEXED_VALUE_TYPE_INT)
	r = fedsaga(t, env, "worker")
	remove := "temporal operator search-attribute remove --namespace " + ns + " --name " + missing + " --yes"
	if r.code == 0 || !strings.Contains(r.stderr, "has "+missing+" of type Int, not Keyword") ||
		!strings.Contains(r.stderr, remove) || !strings.Contains(r.stderr, create) {
		t.Errorf("managed, %s an Int: exit %d; want non-zero, naming it, %q and %q:\n%s", missing, r.code, remove, create, r.stderr)
	}
	t.Logf("wrong type:\n%s", r.stderr)
}
