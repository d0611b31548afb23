package test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// scrape is one parsed answer of a /metrics endpoint.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads and parses the /metrics of a worker or server at
// addr.
func scrapeMetrics(t testing.TB, addr string) scrape {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", addr, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics of %s: %v", addr, err)
	}
	return fams
}

// value sums the series of the family name whose labels include labels:
// a counter's or gauge's value, a histogram's sample count. ok is false
// when no series matches.
func (s scrape) value(name string, labels map[string]string) (v float64, ok bool) {
	fam := s[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		match := true
		for k, want := range labels {
			i := slices.IndexFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k })
			match = match && i >= 0 && m.GetLabel()[i].GetValue() == want
		}
		if !match {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v, ok
}

// waitMetric scrapes addr until the metric's value (see scrape.value) is
// want: the SDK reports to the registry every second, and visibility
// counts lag a little.
func waitMetric(t *testing.T, addr, name string, labels map[string]string, want float64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s%v = %v on %s", name, labels, want, addr), 30*time.Second, func() (bool, string) {
		m := scrapeMetrics(t, addr)
		v, ok := m.value(name, labels)
		return ok && v == want, fmt.Sprintf("%v (present %v) in %v", v, ok, m[name])
	})
}

// TestMetricsOfEveryOutcome runs sagas of every outcome on a worker process
// of their own and reads its /metrics: the Temporal SDK's metrics with the
// names of Temporal's SDK dashboard, the saga counters and histograms
// moved by exactly the sagas of each outcome, a publish that gave up, the
// outbox's oldest unpublished age, and the compensation_failed gauge: 1
// while a saga waits for an operator, also after the worker restarted,
// and 0 once it is resolved. The restarted worker replays the waiting saga
// without counting its compensations again.
func TestMetricsOfEveryOutcome(t *testing.T) {
	s := stack
	ctx := context.Background()
	queue := uniq(t, "queue")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	workers := newProcWorkers(t, queue, "FEDSAGA_WORKER__HTTP_ADDRESS="+addr, "FEDSAGA_WORKER__PPROF=true")
	workers.start(t, 0)
	workers.waitStarted(t, 0)

	// SDK metrics with the dashboard's names, before any saga.
	for _, name := range []string{"temporal_worker_task_slots_available", "temporal_num_pollers", "temporal_request_total"} {
		waitFor(t, name+" on /metrics", 30*time.Second, func() (bool, string) {
			_, ok := scrapeMetrics(t, addr).value(name, map[string]string{"namespace": "default"})
			return ok, "absent"
		})
	}
	if resp, err := http.Get("http://" + addr + "/debug/pprof/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("worker.pprof = true: /debug/pprof/ answers %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get("http://" + s.worker.HTTPAddress() + "/debug/pprof/"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("worker.pprof off: /debug/pprof/ answers %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}

	p := s.addProduct(t, 500, 100)
	scarce := s.addProduct(t, 500, 1)
	rich := s.addCustomer(t, 1_000_000)
	poor := s.addCustomer(t, 100)
	run := func(customer string, items ...starter.Item) *starter.Outcome {
		t.Helper()
		h := s.start(t, starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer, Items: items}, queue)
		out, err := h.Result(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for range 2 {
		if out := run(rich, starter.Item{SKU: p.SKU, Quantity: 1}); out.Status != workflows.Confirmed {
			t.Fatalf("outcome %+v, want confirmed", out)
		}
	}
	for _, tc := range []struct {
		customer string
		item     starter.Item
		reason   string
	}{
		{rich, starter.Item{SKU: scarce.SKU, Quantity: 2}, spec.ErrOutOfStock},
		{poor, starter.Item{SKU: p.SKU, Quantity: 1}, spec.ErrInsufficientFunds},
		{rich, starter.Item{SKU: "SKU-no-such-product", Quantity: 1}, spec.ErrForeignKey},
	} {
		if out := run(tc.customer, tc.item); out.Status != workflows.Cancelled || !strings.Contains(out.Reason, tc.reason) {
			t.Fatalf("outcome %+v, want cancelled with %s", out, tc.reason)
		}
	}
	// A saga whose publish gives up (NATS down longer than
	// events.publish_timeout): the event waits in the outbox, and its age
	// shows, until the relay publishes it.
	var gaveUp *starter.Outcome
	s.restartNATS(t, func() {
		gaveUp = run(rich, starter.Item{SKU: p.SKU, Quantity: 1})
		waitFor(t, "the outbox's oldest unpublished age", 30*time.Second, func() (bool, string) {
			v, _ := scrapeMetrics(t, addr).value("fedsaga_outbox_oldest_unpublished_age_seconds", nil)
			return v >= 1, fmt.Sprint(v)
		})
	})
	if gaveUp.Status != workflows.Confirmed || gaveUp.EventPublished {
		t.Fatalf("outcome %+v, want confirmed with the event left to the relay", gaveUp)
	}
	waitMetric(t, addr, "fedsaga_outbox_oldest_unpublished_age_seconds", nil, 0)

	// Each outcome counted exactly once; histograms as many samples.
	finished := func(status, failureType, step string) map[string]string {
		return map[string]string{"task_queue": queue, "workflow_type": workflows.PlaceOrderName,
			"status": status, "failure_type": failureType, "failed_step": step}
	}
	onQueue := func(kv ...string) map[string]string {
		m := map[string]string{"task_queue": queue}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	step := func(name, phase, result string) map[string]string {
		return onQueue("step", name, "phase", phase, "result", result)
	}
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"fedsaga_saga_finished_total", finished(saga.StatusCompleted, "none", "none"), 3},
		{"fedsaga_saga_finished_total", finished(saga.StatusCompensated, spec.ErrOutOfStock, spec.StepReserve), 1},
		{"fedsaga_saga_finished_total", finished(saga.StatusCompensated, spec.ErrInsufficientFunds, spec.StepCharge), 1},
		{"fedsaga_saga_finished_total", finished(saga.StatusCompensated, spec.ErrForeignKey, spec.StepValidate), 1},
		{"fedsaga_saga_finished_total", onQueue(), 6},
		{"fedsaga_saga_duration_seconds", onQueue("status", saga.StatusCompleted), 3},
		{"fedsaga_saga_duration_seconds", onQueue("status", saga.StatusCompensated), 3},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepValidate, saga.PhaseForward, "ok"), 5},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepValidate, saga.PhaseForward, "failed"), 1},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepCreate, saga.PhaseForward, "ok"), 5},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepReserve, saga.PhaseForward, "ok"), 4},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepReserve, saga.PhaseForward, "failed"), 1},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepCharge, saga.PhaseForward, "ok"), 3},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepCharge, saga.PhaseForward, "failed"), 1},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepConfirm, saga.PhaseForward, "ok"), 3},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepPublish, saga.PhaseFinally, "ok"), 4},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepPublish, saga.PhaseFinally, "failed"), 1},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepCreate, saga.PhaseCompensate, "ok"), 2},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepReserve, saga.PhaseCompensate, "ok"), 2},
		{"fedsaga_saga_step_duration_seconds", step(spec.StepCharge, saga.PhaseCompensate, "ok"), 1},
		{"fedsaga_saga_step_duration_seconds", onQueue("phase", saga.PhaseCompensate), 5},
		{"fedsaga_saga_compensations_total", onQueue(), 5},
		{"fedsaga_saga_compensations_total", onQueue("step", spec.StepCreate), 2},
		{"fedsaga_saga_compensations_total", onQueue("step", spec.StepReserve), 2},
		{"fedsaga_saga_compensations_total", onQueue("step", spec.StepCharge), 1},
		{"fedsaga_saga_publish_gave_up_total", onQueue("event_type", "order.confirmed"), 1},
		{"fedsaga_saga_compensation_failed", onQueue("workflow_type", workflows.PlaceOrderName), 0},
	}
	waitMetric(t, addr, "fedsaga_saga_finished_total", onQueue(), 6)
	m := scrapeMetrics(t, addr)
	for _, w := range want {
		if v, ok := m.value(w.name, w.labels); !ok || v != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.value)
		}
	}
	if v, _ := m.value("fedsaga_saga_compensation_failures_total", onQueue()); v != 0 {
		t.Errorf("fedsaga_saga_compensation_failures_total = %v, but no compensation failed", v)
	}
	// The SDK's metrics of Temporal's SDK dashboard, with its names and
	// types (timers are histograms). In fast mode every activity is local
	// (the failed charge too), and the activity metrics are the local
	// ones: a worker that never ran a regular activity has none of those.
	activities := map[string]dto.MetricType{
		"temporal_activity_schedule_to_start_latency_seconds": dto.MetricType_HISTOGRAM,
		"temporal_activity_execution_latency_seconds":         dto.MetricType_HISTOGRAM,
		"temporal_activity_execution_failed_total":            dto.MetricType_COUNTER,
	}
	if s.Config.Saga.Mode == config.ModeLocal {
		activities = map[string]dto.MetricType{
			"temporal_local_activity_execution_latency_seconds": dto.MetricType_HISTOGRAM,
			"temporal_local_activity_execution_failed_total":    dto.MetricType_COUNTER,
		}
	}
	sdk := map[string]dto.MetricType{
		"temporal_request_total":                                   dto.MetricType_COUNTER,
		"temporal_request_latency_seconds":                         dto.MetricType_HISTOGRAM,
		"temporal_long_request_total":                              dto.MetricType_COUNTER,
		"temporal_workflow_completed_total":                        dto.MetricType_COUNTER,
		"temporal_workflow_endtoend_latency_seconds":               dto.MetricType_HISTOGRAM,
		"temporal_workflow_task_schedule_to_start_latency_seconds": dto.MetricType_HISTOGRAM,
		"temporal_workflow_task_execution_latency_seconds":         dto.MetricType_HISTOGRAM,
		"temporal_workflow_task_queue_poll_succeed_total":          dto.MetricType_COUNTER,
		"temporal_worker_task_slots_available":                     dto.MetricType_GAUGE,
		"temporal_worker_task_slots_used":                          dto.MetricType_GAUGE,
		"temporal_sticky_cache_size":                               dto.MetricType_GAUGE,
		"temporal_num_pollers":                                     dto.MetricType_GAUGE,
	}
	maps.Copy(sdk, activities)
	for name, typ := range sdk {
		if fam := m[name]; fam == nil || fam.GetType() != typ {
			t.Errorf("/metrics lacks the SDK's %s (%s)", name, typ)
		}
	}
	if v, _ := m.value("temporal_workflow_completed_total", onQueue("workflow_type", workflows.PlaceOrderName)); v != 6 {
		t.Errorf("temporal_workflow_completed_total = %v, want 6", v)
	}

	// compensation_failed: the refund is not needed (charge failed), the
	// release of the reservation fails until an operator resolves it.
	orderID := uniq(t, "ord")
	inv := s.pool(t, "inventory")
	fn := s.breakRelease(t, orderID)
	h := s.start(t, starter.Request{OrderID: orderID, CustomerID: poor, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, queue)
	s.waitState(t, orderID, saga.StatusCompensationFailed, "")
	stuck := onQueue("workflow_type", workflows.PlaceOrderName)
	waitMetric(t, addr, "fedsaga_saga_compensation_failed", stuck, 1)
	waitMetric(t, addr, "fedsaga_saga_compensation_failures_total", onQueue("step", spec.StepReserve), 1)
	// Now the worker exports every metric it has: the dashboard and the
	// alerts use no other.
	checkMonitoring(t, scrapeMetrics(t, addr))

	// A new worker process: the gauge comes from visibility, not memory.
	workers.signal(t, 0, syscall.SIGTERM)
	workers.start(t, 0)
	workers.waitStarted(t, 0)
	waitMetric(t, addr, "fedsaga_saga_compensation_failed", stuck, 1)

	if _, err := inv.Exec(ctx, `ALTER TABLE tb_reservation DISABLE TRIGGER `+fn); err != nil {
		t.Fatal(err)
	}
	if r := fedsaga(t, nil, "saga", "resolve", orderID, "--reason", "released by hand"); r.code != 0 {
		t.Fatalf("resolve: exit %d: %s", r.code, r.stderr)
	}
	out, err := h.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != workflows.Cancelled || !slices.Equal(out.Resolved, []string{spec.StepReserve}) {
		t.Fatalf("outcome %+v, want cancelled with reserve_inventory resolved", out)
	}
	waitMetric(t, addr, "fedsaga_saga_compensation_failed", stuck, 0)
	waitMetric(t, addr, "fedsaga_saga_finished_total", finished(saga.StatusCompensated, spec.ErrInsufficientFunds, spec.StepCharge), 1)
	// The new process counts what ran after the restart only: the
	// compensations the first one ran are replayed, not recorded again.
	m = scrapeMetrics(t, addr)
	if v, _ := m.value("fedsaga_saga_compensations_total", onQueue()); v != 1 {
		t.Errorf("fedsaga_saga_compensations_total = %v after the restart, want 1 (cancel the order)", v)
	}
	if v, _ := m.value("fedsaga_saga_compensations_total", onQueue("step", spec.StepCreate)); v != 1 {
		t.Errorf("fedsaga_saga_compensations_total{step=%s} = %v, want 1", spec.StepCreate, v)
	}
	// (Replay creates the series at 0: the SDK's handler drops the records.)
	if v, _ := m.value("fedsaga_saga_compensation_failures_total", onQueue()); v != 0 {
		t.Errorf("fedsaga_saga_compensation_failures_total = %v after the restart: a replayed failure counted again", v)
	}
}
