package worker

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"

	"github.com/fedsaga/fedsaga/workflows/saga"
)

// MetricsBuckets are the histogram buckets, in seconds, of every metric the
// Temporal SDK records as a timer: its own latencies and the sagas'
// durations (workflow code records through the SDK). From 1 ms to an hour:
// a saga that waited for an operator still lands in a bucket.
var MetricsBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
}

// sanitize makes names and label names valid for Prometheus, as the SDK's
// contrib recommends, but keeps label values as they are: Prometheus takes
// any value, and task_queue="fedsaga-orders" (not "fedsaga_orders") matches
// the configuration, the Web UI and fedsaga's own metrics.
var sanitize = func() tally.SanitizeOptions {
	o := sdktally.PrometheusSanitizeOptions
	o.ValueCharacters = tally.ValidCharacters{Ranges: []tally.SanitizeRange{{0, unicode.MaxRune}}}
	return o
}()

// metricsInterval is how often the SDK's metrics reach the registry.
const metricsInterval = time.Second

// NewMetricsHandler returns the Temporal SDK's metrics handler for a
// client, recording into reg: the SDK's own metrics with the names of
// Temporal's SDK dashboard (temporal_workflow_task_schedule_to_start_latency_seconds,
// temporal_worker_task_slots_available, temporal_sticky_cache_size,
// temporal_num_pollers, ...), and what workflow code records through
// workflow.GetMetricsHandler (the saga metrics, fedsaga_saga_*). Timers are
// histograms with MetricsBuckets. Close the returned closer when the
// client is closed: it flushes and stops the reporting loop.
func NewMetricsHandler(reg prometheus.Registerer, logger zerolog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:              reg,
		DefaultTimerType:        tallyprom.HistogramTimerType,
		DefaultHistogramBuckets: MetricsBuckets,
		OnRegisterError: func(err error) {
			logger.Warn().Err(err).Msg("temporal metric not registered")
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:         reporter,
		Separator:              tallyprom.DefaultSeparator,
		SanitizeOptions:        &sanitize,
		OmitCardinalityMetrics: true,
	}, metricsInterval)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}

// WithMetrics makes DialTemporal's client record the SDK's metrics with h
// (NewMetricsHandler).
func WithMetrics(h client.MetricsHandler) DialOption {
	return func(o *client.Options) { o.MetricsHandler = h }
}

// compensationFailedTTL is how long a count of the sagas in
// compensation_failed is reused before Temporal is asked again.
const compensationFailedTTL = 5 * time.Second

var descCompensationFailed = prometheus.NewDesc("fedsaga_saga_compensation_failed",
	"Sagas running in compensation_failed, waiting for an operator, counted in Temporal's visibility store "+
		"(SagaStatus search attribute) for the task queue.",
	[]string{"namespace", "task_queue", "workflow_type"}, nil)

// CompensationFailed is a Prometheus collector of the gauge
// fedsaga_saga_compensation_failed: the running sagas of each workflow
// type on a task queue whose SagaStatus is compensation_failed. It counts
// them in Temporal's visibility store (CountWorkflow), not in the process,
// so every worker reports the same number, also right after a restart.
// Counts, and a failure to count, are reused for a few seconds; when
// Temporal cannot answer, the gauge is left out of the scrape.
type CompensationFailed struct {
	Client    client.Client
	Namespace string
	TaskQueue string
	Types     []string // the saga workflow types the worker runs
	Logger    zerolog.Logger

	mu     sync.Mutex
	at     time.Time
	counts []int64 // by Types; nil after a failure
}

// Query is the visibility query that counts the sagas of a workflow type
// in compensation_failed.
func (c *CompensationFailed) Query(workflowType string) string {
	return fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running' AND TaskQueue = '%s' AND WorkflowType = '%s'",
		saga.SagaStatus.GetName(), saga.StatusCompensationFailed, c.TaskQueue, workflowType)
}

// Describe implements prometheus.Collector.
func (c *CompensationFailed) Describe(ch chan<- *prometheus.Desc) { ch <- descCompensationFailed }

// Collect implements prometheus.Collector.
func (c *CompensationFailed) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) >= compensationFailedTTL { // a failure waits as long
		c.counts = c.count()
		c.at = time.Now()
	}
	for i, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(descCompensationFailed, prometheus.GaugeValue, float64(n),
			c.Namespace, c.TaskQueue, c.Types[i])
	}
}

func (c *CompensationFailed) count() []int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := make([]int64, len(c.Types))
	for i, typ := range c.Types {
		resp, err := c.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: c.Namespace, Query: c.Query(typ)})
		if err != nil {
			c.Logger.Warn().Err(err).Str("workflow_type", typ).Msg("sagas in compensation_failed not counted")
			return nil
		}
		counts[i] = resp.GetCount()
	}
	return counts
}
