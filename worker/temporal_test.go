package worker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	tworker "go.temporal.io/sdk/worker"

	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/buildinfo"
)

func TestOptionsFromConfig(t *testing.T) {
	opts := Options(config.Worker{StopTimeout: 7 * time.Second})
	if opts.WorkerStopTimeout != 7*time.Second || opts.DeploymentOptions.UseVersioning || len(opts.Interceptors) != 1 {
		t.Errorf("unversioned options = %+v", opts)
	}
	opts = Options(config.Worker{DeploymentName: "fedsaga-orders", BuildID: "2026.11.28-1"})
	d := opts.DeploymentOptions
	if !d.UseVersioning || d.Version.DeploymentName != "fedsaga-orders" || d.Version.BuildID != "2026.11.28-1" ||
		d.DefaultVersioningBehavior != workflow.VersioningBehaviorAutoUpgrade {
		t.Errorf("deployment options = %+v", d)
	}
	opts = Options(config.Worker{DeploymentName: "fedsaga-orders"})
	if got, want := opts.DeploymentOptions.Version.BuildID, buildinfo.Version(); got != want {
		t.Errorf("build ID with worker.build_id unset = %q, want the version %q", got, want)
	}
}

func TestOptionsSlotsAndPollers(t *testing.T) {
	opts := Options(config.Worker{MaxConcurrentActivities: 12, MaxConcurrentLocalActivities: 7, MaxConcurrentWorkflowTasks: 40,
		WorkflowTaskPollers: 6, ActivityTaskPollers: 3})
	if opts.MaxConcurrentActivityExecutionSize != 12 || opts.MaxConcurrentLocalActivityExecutionSize != 7 || opts.MaxConcurrentWorkflowTaskExecutionSize != 40 {
		t.Errorf("slots = %d activities, %d local, %d workflow tasks, want 12, 7, 40", opts.MaxConcurrentActivityExecutionSize,
			opts.MaxConcurrentLocalActivityExecutionSize, opts.MaxConcurrentWorkflowTaskExecutionSize)
	}
	auto := func(most int) tworker.PollerBehavior {
		return tworker.NewPollerBehaviorAutoscaling(tworker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: most})
	}
	if opts.WorkflowTaskPollerBehavior == nil || opts.ActivityTaskPollerBehavior == nil ||
		!equalBehavior(opts.WorkflowTaskPollerBehavior, auto(6)) || !equalBehavior(opts.ActivityTaskPollerBehavior, auto(3)) {
		t.Errorf("pollers = %+v and %+v, want autoscaling up to 6 and 3", opts.WorkflowTaskPollerBehavior, opts.ActivityTaskPollerBehavior)
	}
	if opts.MaxConcurrentWorkflowTaskPollers != 0 || opts.MaxConcurrentActivityTaskPollers != 0 {
		t.Error("fixed poller counts set beside the autoscaling behaviour (the SDK refuses both)")
	}
}

// equalBehavior compares two poller behaviours by what they print, their
// fields being unexported.
func equalBehavior(a, b tworker.PollerBehavior) bool {
	return fmt.Sprintf("%T%+v", a, a) == fmt.Sprintf("%T%+v", b, b)
}

func TestWarnSlotsOverPools(t *testing.T) {
	cfg := config.Default()
	for _, name := range config.RequiredDatabases {
		cfg.Databases[name] = config.Database{PoolSize: 10}
	}
	warnings := func(activities, local int) string {
		cfg.Worker.MaxConcurrentActivities, cfg.Worker.MaxConcurrentLocalActivities = activities, local
		var buf bytes.Buffer
		warnSlots(cfg, zerolog.New(&buf))
		return buf.String()
	}
	if out := warnings(10, 40); out != "" {
		t.Errorf("slots within 4 times the pools: %s", out)
	}
	out := warnings(1000, 41)
	for _, want := range []string{`"key":"worker.max_concurrent_activities"`, `"key":"worker.max_concurrent_local_activities"`, `"pool_size":10`, "PoolExhaustedError", `"level":"warn"`} {
		if !strings.Contains(out, want) {
			t.Errorf("warning lacks %s:\n%s", want, out)
		}
	}
}

func TestSettingsFromConfig(t *testing.T) {
	s := Settings(config.Saga{Timeout: time.Minute, CompensationTimeout: 2 * time.Minute, Mode: config.ModeLocal, ParallelCompensation: true, ContinueWithError: true},
		config.Events{PublishTimeout: 3 * time.Second})
	if s.Timeout != time.Minute || s.CompensationTimeout != 2*time.Minute || !s.LocalActivities || !s.ParallelCompensation || !s.ContinueWithError || s.PublishTimeout != 3*time.Second {
		t.Errorf("settings = %+v", s)
	}
	if Settings(config.Saga{Mode: config.ModeRegular}, config.Events{}).LocalActivities {
		t.Error("regular mode runs local activities")
	}
}

func TestStreamConfigOfOrders(t *testing.T) {
	sc := StreamConfig(config.OrdersStream, config.Stream{Subjects: []string{"fedsaga.order.>"}, Replicas: 1, MaxMsgs: -1, MaxBytes: -1, DuplicateWindow: time.Minute})
	if sc.MaxMsgsPerSubject != 1 || !sc.DiscardNewPerSubject || sc.Duplicates != time.Minute {
		t.Errorf("ORDERS stream config = %+v: want one message per subject, discard new per subject", sc)
	}
	other := StreamConfig("AUDIT", config.Stream{Subjects: []string{"audit.>"}})
	if other.MaxMsgsPerSubject != -1 || other.DiscardNewPerSubject {
		t.Errorf("other stream config = %+v", other)
	}
}
