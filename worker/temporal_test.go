package worker

import (
	"testing"
	"time"

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
	if other.MaxMsgsPerSubject != 0 || other.DiscardNewPerSubject {
		t.Errorf("other stream config = %+v", other)
	}
}
