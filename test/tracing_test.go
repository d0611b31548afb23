package test

// Tracing on the real stack: sagas on a worker with telemetry on, traced
// into an in-memory exporter; the outbox relay in another process (the
// fedsaga binary) exporting over OTLP to a receiver the test runs. The test
// has databases and a NATS server of its own, so no other relay (the
// stack's) publishes its events.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/logging"
	"github.com/fedsaga/fedsaga/migrations"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/telemetry"
	"github.com/fedsaga/fedsaga/tracing"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

var (
	spansOnce sync.Once
	spans     *tracetest.InMemoryExporter
)

// inMemorySpans turns tracing on in this process, exporting every span to
// memory as it ends.
func inMemorySpans(t *testing.T) *tracetest.InMemoryExporter {
	spansOnce.Do(func() {
		spans = tracetest.NewInMemoryExporter()
		cfg := config.DefaultTelemetry()
		cfg.Enabled = true
		if _, err := telemetry.Start(context.Background(), cfg, telemetry.WithExporter(spans)); err != nil {
			t.Fatal(err)
		}
	})
	return spans
}

// traceEnv is a worker with telemetry on, with databases and a NATS server
// of its own, on the stack's Temporal.
type traceEnv struct {
	cfg      *config.Config
	dbs      *pg.Registry
	nats     *server.Server
	natsOpts *server.Options
	temporal client.Client
	logs     *syncBuffer // the worker's log lines (JSON)
	stop     func()      // stops the worker
	env      []string    // FEDSAGA_* variables for a fedsaga process on this environment
}

func newTraceEnv(t *testing.T) *traceEnv {
	s := stack
	ctx := context.Background()
	e := &traceEnv{logs: &syncBuffer{}}
	cfg := *s.Config
	cfg.Databases = maps.Clone(cfg.Databases)
	prefix := fmt.Sprintf("fedsaga_tr%d", time.Now().UnixNano())
	for _, name := range migrations.Databases {
		dbName := prefix + "_" + name
		if err := s.admin(ctx, "CREATE DATABASE "+dbName); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.admin(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)") })
		db := cfg.Databases[name]
		db.URL, db.PoolSize = withDatabase(s.adminURL, dbName), 4
		cfg.Databases[name] = db
		e.env = append(e.env, fmt.Sprintf("FEDSAGA_DATABASES__%s__URL=%s", strings.ToUpper(name), db.URL))
	}
	var err error
	if e.dbs, err = pg.Open(cfg.Databases, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.dbs.Close)
	for _, name := range migrations.Databases {
		db, _ := e.dbs.DB(name)
		if _, err := migrations.Up(ctx, name, db.Pool()); err != nil {
			t.Fatal(err)
		}
	}
	e.natsOpts = &server.Options{Host: "127.0.0.1", Port: freePort(), JetStream: true,
		StoreDir: filepath.Join(t.TempDir(), "nats"), NoLog: true, NoSigs: true}
	e.startNATS(t)
	t.Cleanup(func() { e.nats.Shutdown() })
	cfg.NATS.URL = e.nats.ClientURL()
	cfg.Temporal.TaskQueue = uniq(t, "traced")
	cfg.Events.RelayDelay = time.Hour // this worker's relay leaves every event alone
	cfg.Telemetry.Enabled = true
	e.cfg = &cfg
	e.env = append(e.env, "FEDSAGA_NATS__URL="+cfg.NATS.URL)

	inMemorySpans(t)
	logger, err := logging.New(e.logs, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	if e.temporal, err = worker.DialTemporal(ctx, e.cfg, logger); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.temporal.Close)
	w, err := worker.New(ctx, e.cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	e.stop = sync.OnceFunc(func() { stop(); <-done; w.Close() })
	t.Cleanup(e.stop)
	return e
}

func (e *traceEnv) startNATS(t *testing.T) {
	ns, err := server.NewServer(e.natsOpts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready after 10s")
	}
	e.nats = ns
}

// fixtures adds a product and a customer with the given balance.
func (e *traceEnv) fixtures(t *testing.T, balance int64) (sku, customer string) {
	ctx := context.Background()
	id := uniq(t, "p")
	sku, customer = "SKU-"+id, uniq(t, "c")
	inv, _ := e.dbs.DB("inventory")
	pay, _ := e.dbs.DB("payments")
	if _, err := inv.Pool().Exec(ctx, `INSERT INTO tb_product (id, sku, name, price_cents, stock) VALUES ($1, $2, 'Traced', 100, 10)`, id, sku); err != nil {
		t.Fatal(err)
	}
	if _, err := pay.Pool().Exec(ctx, `INSERT INTO tb_account (customer_id, name, balance_cents) VALUES ($1, 'Traced', $2)`, customer, balance); err != nil {
		t.Fatal(err)
	}
	return sku, customer
}

// place runs a saga from a span of the test, as a service that starts
// sagas would, and returns the outcome and the span's context.
func (e *traceEnv) place(t *testing.T, balance int64) (*starter.Outcome, trace.SpanContext) {
	sku, customer := e.fixtures(t, balance)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx, span := otel.Tracer("fedsaga-test").Start(ctx, "checkout")
	defer span.End()
	h, err := starter.PlaceOrder(ctx, e.temporal, starter.Request{OrderID: uniq(t, "ord"), CustomerID: customer,
		Items: []starter.Item{{SKU: sku, Quantity: 1}}}, starter.TaskQueue(e.cfg.Temporal.TaskQueue))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out, span.SpanContext()
}

// traceOf returns the spans of one trace once the workflow's span has
// ended, by name.
func traceOf(t *testing.T, id trace.TraceID) map[string][]tracetest.SpanStub {
	t.Helper()
	var byName map[string][]tracetest.SpanStub
	waitFor(t, "the workflow's span", 10*time.Second, func() (bool, string) {
		byName = map[string][]tracetest.SpanStub{}
		for _, s := range inMemorySpans(t).GetSpans() {
			if s.SpanContext.TraceID() == id {
				byName[s.Name] = append(byName[s.Name], s)
			}
		}
		return len(byName["RunWorkflow:"+workflows.PlaceOrderName]) == 1, fmt.Sprintf("%d span names", len(byName))
	})
	return byName
}

// one returns the only span of the name whose parent is parent.
func one(t *testing.T, byName map[string][]tracetest.SpanStub, name string, parent trace.SpanContext) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range byName[name] {
		if s.Parent.SpanID() == parent.SpanID() {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans %q under span %s, want 1 (spans of the trace: %v)", len(found), name, parent.SpanID(), slices.Sorted(maps.Keys(byName)))
	}
	return found[0]
}

func children(byName map[string][]tracetest.SpanStub, parent trace.SpanContext, ok func(tracetest.SpanStub) bool) int {
	n := 0
	for _, list := range byName {
		for _, s := range list {
			if s.Parent.SpanID() == parent.SpanID() && ok(s) {
				n++
			}
		}
	}
	return n
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// checkChain asserts the trace is the chain starter → workflow → each
// activity of the saga's history → its SQL statements, and that the
// publish step's publish span is there; it returns the activity spans by
// name.
func checkChain(t *testing.T, e *traceEnv, orderID string, root trace.SpanContext, eventType string) map[string]tracetest.SpanStub {
	t.Helper()
	byName := traceOf(t, root.TraceID())
	start := one(t, byName, "StartWorkflow:"+workflows.PlaceOrderName, root)
	run := one(t, byName, "RunWorkflow:"+workflows.PlaceOrderName, start.SpanContext)
	if id := attr(run, "temporalWorkflowID"); id != workflows.OrderWorkflowID(orderID) {
		t.Errorf("workflow span of %q, want %q", id, workflows.OrderWorkflowID(orderID))
	}
	// Regular and local activities alike (saga.mode = "local" runs most
	// of them local): the interceptor traces both the same way.
	local, regular := stackOf(e).activityKinds(t, orderID)
	ran := map[string]bool{}
	maps.Copy(ran, local)
	maps.Copy(ran, regular)
	if len(ran) < 6 {
		t.Fatalf("history has activities %v (local) and %v (regular)", local, regular)
	}
	acts := map[string]tracetest.SpanStub{}
	for name := range ran {
		scheduled := one(t, byName, "StartActivity:"+name, run.SpanContext)
		executed := one(t, byName, "RunActivity:"+name, scheduled.SpanContext)
		acts[name] = executed
		sql := children(byName, executed.SpanContext, func(s tracetest.SpanStub) bool {
			return attr(s, "db.system.name") == "postgresql" && attr(s, "db.query.text") != ""
		})
		if sql == 0 {
			t.Errorf("activity %s: no SQL statement span under it", name)
		}
	}
	publish := one(t, byName, "publish "+eventType, acts[spec.PublishEvent].SpanContext)
	if publish.SpanKind != trace.SpanKindProducer || attr(publish, "fedsaga.publisher") != "saga" {
		t.Errorf("publish span: kind %v, publisher %q", publish.SpanKind, attr(publish, "fedsaga.publisher"))
	}
	// The message carries the publish span; the envelope the step that wrote it.
	msg := e.message(t, orderID, eventType)
	if got, want := msg.Header.Get(tracing.TraceParent), traceparent(publish.SpanContext); got != want {
		t.Errorf("message header traceparent %q, want the publish span's %q", got, want)
	}
	writer := acts[spec.ConfirmOrder]
	if eventType == events.TypeCancelled {
		writer = acts[spec.CancelOrder]
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.TraceParent != traceparent(writer.SpanContext) {
		t.Errorf("envelope traceparent %q, want the span of the step that wrote the event %q", ev.TraceParent, traceparent(writer.SpanContext))
	}
	return acts
}

func stackOf(e *traceEnv) *Stack {
	s := *stack
	s.Temporal = e.temporal
	return &s
}

// traceparent is the W3C form of a sampled span context.
func traceparent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())
}

// message returns the stream's message of an order's event.
func (e *traceEnv) message(t *testing.T, orderID, eventType string) *jetstream.RawStreamMsg {
	t.Helper()
	nc, err := nats.Connect(e.nats.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(context.Background(), config.OrdersStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetLastMsgForSubject(context.Background(), events.Subject(orderID, eventType))
	if err != nil {
		t.Fatalf("message of %s: %v", orderID, err)
	}
	return raw
}

func TestTracing(t *testing.T) {
	e := newTraceEnv(t)

	t.Run("confirmed", func(t *testing.T) {
		out, root := e.place(t, 10_000)
		if out.Status != workflows.Confirmed || !out.EventPublished {
			t.Fatalf("outcome %+v", out)
		}
		checkChain(t, e, out.OrderID, root, events.TypeConfirmed)
	})

	t.Run("compensated", func(t *testing.T) {
		out, root := e.place(t, 0) // the charge is refused
		if out.Status != workflows.Cancelled || !out.EventPublished {
			t.Fatalf("outcome %+v", out)
		}
		acts := checkChain(t, e, out.OrderID, root, events.TypeCancelled)
		for _, c := range []string{spec.RefundPayment, spec.ReleaseInventory, spec.CancelOrder} {
			if _, ok := acts[c]; !ok {
				t.Errorf("compensation %s not in the trace", c)
			}
		}
		// The SDK's activity logger: trace_id and span_id beside order_id and step.
		refund := acts[spec.RefundPayment].SpanContext
		found := false
		for line := range strings.SplitSeq(e.logs.String(), "\n") {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && l["order_id"] == out.OrderID && l["step"] == spec.StepCharge &&
				strings.Contains(fmt.Sprint(l["message"]), "null compensation") {
				found = true
				if l["trace_id"] != refund.TraceID().String() || l["span_id"] != refund.SpanID().String() {
					t.Errorf("log line %s: want trace_id %s and span_id %s", line, refund.TraceID(), refund.SpanID())
				}
			}
		}
		if !found {
			t.Errorf("no log line of the refund's null compensation:\n%s", e.logs.String())
		}
	})

	t.Run("relay in another process", func(t *testing.T) {
		began := time.Now()
		// NATS is down for the whole publish step: the event stays in the outbox.
		e.nats.Shutdown()
		e.nats.WaitForShutdown()
		out, root := e.place(t, 10_000)
		// The worker stops: its connection's reconnect buffer, which may
		// hold the step's last attempt, goes with it. Only the relay can
		// publish the event now.
		t.Logf("%s: saga done", time.Since(began))
		e.stop()
		e.startNATS(t)
		t.Logf("%s: worker stopped, NATS back", time.Since(began))
		if out.Status != workflows.Confirmed || out.EventPublished {
			t.Fatalf("outcome %+v: want confirmed with the event left to the relay", out)
		}
		acts := map[string]tracetest.SpanStub{}
		for name, list := range traceOf(t, root.TraceID()) {
			if len(list) > 0 {
				acts[name] = list[0]
			}
		}
		confirm, ok := acts["RunActivity:"+spec.ConfirmOrder]
		if !ok {
			t.Fatal("no span of the confirm step")
		}
		var stored string
		orders, _ := e.dbs.DB("orders")
		if err := orders.Pool().QueryRow(context.Background(), `SELECT traceparent FROM tb_outbox WHERE order_id = $1`, out.OrderID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != traceparent(confirm.SpanContext) {
			t.Fatalf("outbox traceparent %q, want the confirm step's %q", stored, traceparent(confirm.SpanContext))
		}

		// A consumer in this process, and the relay in a fedsaga worker process.
		received := make(chan trace.SpanContext, 1)
		nc, err := nats.Connect(e.nats.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		c, err := consumer.New(context.Background(), js, consumer.Options{Durable: uniq(t, "traced")})
		if err != nil {
			t.Fatal(err)
		}
		cctx, stopConsumer := context.WithCancel(context.Background())
		defer stopConsumer()
		go c.Run(cctx, func(ctx context.Context, ev events.Envelope) error {
			if ev.Data.OrderID == out.OrderID {
				received <- trace.SpanContextFromContext(ctx)
			}
			return nil
		})

		otlp := newOTLPReceiver(t, false)
		relay := exec.Command(fedsagaBin(t), "--config", stack.ConfigPath, "worker")
		relay.Env = append(append(relay.Environ(), e.env...),
			"FEDSAGA_TEMPORAL__TASK_QUEUE="+uniq(t, "relay"), "FEDSAGA_EVENTS__RELAY_DELAY=0s",
			"FEDSAGA_WORKER__HTTP_ADDRESS=127.0.0.1:0",
			"FEDSAGA_TELEMETRY__ENABLED=true", "FEDSAGA_TELEMETRY__PROTOCOL=http/protobuf",
			"FEDSAGA_TELEMETRY__ENDPOINT="+otlp.URL, "FEDSAGA_TELEMETRY__SERVICE_NAME=from-the-file",
			"OTEL_SERVICE_NAME=fedsaga-relay", "OTEL_BSP_SCHEDULE_DELAY=100")
		var relayLog syncBuffer
		relay.Stdout, relay.Stderr = &relayLog, &relayLog
		if err := relay.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = relay.Process.Kill(); _ = relay.Wait() }()
		waitFor(t, "the relay's worker started", 30*time.Second, func() (bool, string) {
			return strings.Contains(relayLog.String(), "worker started"), relayLog.String()
		})

		t.Logf("%s: relay process started", time.Since(began))
		var handled trace.SpanContext
		select {
		case handled = <-received:
		case <-time.After(time.Minute):
			t.Fatalf("the consumer got no event; relay's log:\n%s", relayLog.String())
		}
		t.Logf("%s: event handled", time.Since(began))
		msg := e.message(t, out.OrderID, events.TypeConfirmed)
		header := msg.Header.Get(tracing.TraceParent)
		ev, err := events.Decode(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.TraceParent != stored || !strings.HasPrefix(header, "00-"+root.TraceID().String()+"-") || header == stored {
			t.Errorf("envelope traceparent %q (want %q), header %q (want the relay's span in trace %s)", ev.TraceParent, stored, header, root.TraceID())
		}
		if handled.TraceID() != root.TraceID() {
			t.Errorf("the handler's context is in trace %s, want %s", handled.TraceID(), root.TraceID())
		}
		// The handler signals from inside its span, which ends (and is
		// exported) only once the handler has returned.
		var process *tracetest.SpanStub
		waitFor(t, "the consumer's span ended", 10*time.Second, func() (bool, string) {
			process = findSpan(inMemorySpans(t).GetSpans(), func(s tracetest.SpanStub) bool {
				return s.Name == "process "+events.TypeConfirmed && s.SpanContext.SpanID() == handled.SpanID()
			})
			return process != nil, "no span " + handled.SpanID().String()
		})
		if traceparent(process.Parent) != header {
			t.Errorf("the consumer's span %+v: want a child of the relay's publish span %s", process, header)
		}

		// The relay process exports its publish span: a child of the confirm step.
		_ = relay.Process.Signal(syscall.SIGTERM)
		werr := relay.Wait()
		t.Logf("relay exited: %v; %d spans received", werr, len(otlp.spans))
		got := otlp.find(func(s *tracepb.Span, service string) bool {
			return hex.EncodeToString(s.TraceId) == root.TraceID().String() && s.Name == "publish "+events.TypeConfirmed
		})
		if got == nil {
			t.Fatalf("the relay exported no publish span of the trace; its log:\n%s", relayLog.String())
		}
		if hex.EncodeToString(got.span.ParentSpanId) != confirm.SpanContext.SpanID().String() ||
			header != fmt.Sprintf("00-%x-%x-01", got.span.TraceId, got.span.SpanId) || got.service != "fedsaga-relay" {
			t.Errorf("relay's span: parent %x (want %s), id %x (header %s), service %q (want OTEL_SERVICE_NAME's fedsaga-relay)",
				got.span.ParentSpanId, confirm.SpanContext.SpanID(), got.span.SpanId, header, got.service)
		}
	})
}

func findSpan(list tracetest.SpanStubs, ok func(tracetest.SpanStub) bool) *tracetest.SpanStub {
	for i := range list {
		if ok(list[i]) {
			return &list[i]
		}
	}
	return nil
}

// otlpReceiver is an OTLP/HTTP trace endpoint (protobuf) that keeps what it
// receives.
type otlpReceiver struct {
	URL      string
	mu       sync.Mutex
	spans    []receivedSpan
	received int  // spans
	discard  bool // count the spans only
}

type receivedSpan struct {
	span    *tracepb.Span
	service string
}

func newOTLPReceiver(t testing.TB, discard bool) *otlpReceiver {
	r := &otlpReceiver{discard: discard}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var export coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &export)
		}
		if err != nil || req.URL.Path != "/v1/traces" {
			http.Error(w, fmt.Sprintf("path %s: %v", req.URL.Path, err), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range export.ResourceSpans {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				r.received += len(ss.Spans)
				for _, s := range ss.Spans {
					if !r.discard {
						r.spans = append(r.spans, receivedSpan{s, service})
					}
				}
			}
		}
		r.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *otlpReceiver) find(ok func(*tracepb.Span, string) bool) *receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.spans {
		if ok(r.spans[i].span, r.spans[i].service) {
			return &r.spans[i]
		}
	}
	return nil
}
