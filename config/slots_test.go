package config

import (
	"strings"
	"testing"
)

// The activity slots default to the smallest pool of the saga's databases.
func TestLoadSlotsFollowSagaPools(t *testing.T) {
	const pools = `
[databases.orders]
url = "postgres://app@db/orders"
pool_size = 8
[databases.inventory]
url = "postgres://app@db/inventory"
pool_size = 4
[databases.payments]
url = "postgres://app@db/payments"
pool_size = 6
[databases.reports]
url = "postgres://app@db/reports"
pool_size = 1
`
	tests := []struct {
		name              string
		file              string
		env               map[string]string
		activities, local int
	}{
		{name: "derived from the smallest saga pool, not reports", file: pools, activities: 4, local: 4},
		{name: "zero is derived", file: pools + "[worker]\nmax_concurrent_activities = 0\nmax_concurrent_local_activities = 0\n", activities: 4, local: 4},
		{name: "set in the file", file: pools + "[worker]\nmax_concurrent_activities = 12\nmax_concurrent_local_activities = 3\n", activities: 12, local: 3},
		{name: "set in the environment", file: pools, env: map[string]string{
			"FEDSAGA_WORKER__MAX_CONCURRENT_ACTIVITIES": "7", "FEDSAGA_DATABASES__INVENTORY__POOL_SIZE": "20",
		}, activities: 7, local: 6},
		{name: "default pools", file: minimal, activities: 10, local: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(writeConfig(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			w := c.Worker
			if w.MaxConcurrentActivities != tt.activities || w.MaxConcurrentLocalActivities != tt.local {
				t.Errorf("slots = %d activities, %d local activities, want %d and %d", w.MaxConcurrentActivities, w.MaxConcurrentLocalActivities, tt.activities, tt.local)
			}
			if w.MaxConcurrentWorkflowTasks != 1000 || w.WorkflowTaskPollers != 100 || w.ActivityTaskPollers != 100 {
				t.Errorf("worker = %+v, want 1000 workflow task slots and 100 pollers of each kind", w)
			}
		})
	}
}

func TestLoadWorkerTuning(t *testing.T) {
	isolate(t)
	t.Setenv("FEDSAGA_WORKER__ACTIVITY_TASK_POLLERS", "8")
	c, err := Load(writeConfig(t, minimal+"[worker]\nmax_concurrent_workflow_tasks = 50\nworkflow_task_pollers = 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Worker; w.MaxConcurrentWorkflowTasks != 50 || w.WorkflowTaskPollers != 4 || w.ActivityTaskPollers != 8 {
		t.Errorf("worker = %+v", w)
	}

	// Not numbers: each key named, all at once.
	_, err = Load(writeConfig(t, minimal+"[worker]\nmax_concurrent_activities = \"many\"\nworkflow_task_pollers = 1.5\n"))
	for _, key := range []string{"worker.max_concurrent_activities", "worker.workflow_task_pollers"} {
		if !strings.Contains(errString(err), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestValidateWorkerTuning(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"activities negative", func(c *Config) { c.Worker.MaxConcurrentActivities = -1 },
			"config: worker.max_concurrent_activities: must be at least 1, or 0 for the smallest pool_size of the saga's databases, got -1"},
		{"local activities negative", func(c *Config) { c.Worker.MaxConcurrentLocalActivities = -5 },
			"config: worker.max_concurrent_local_activities: must be at least 1, or 0 for the smallest pool_size of the saga's databases, got -5"},
		{"activities zero", func(c *Config) { c.Worker.MaxConcurrentActivities = 0 }, ""},
		{"activities far above the pools", func(c *Config) { c.Worker.MaxConcurrentActivities = 1000 }, ""}, // a warning of the worker, not an error
		{"workflow tasks one", func(c *Config) { c.Worker.MaxConcurrentWorkflowTasks = 1 },
			"config: worker.max_concurrent_workflow_tasks: must be at least 2, got 1"},
		{"workflow tasks two", func(c *Config) { c.Worker.MaxConcurrentWorkflowTasks = 2 }, ""},
		{"workflow pollers one", func(c *Config) { c.Worker.WorkflowTaskPollers = 1 },
			"config: worker.workflow_task_pollers: must be at least 2, got 1"},
		{"activity pollers zero", func(c *Config) { c.Worker.ActivityTaskPollers = 0 },
			"config: worker.activity_task_pollers: must be at least 1, got 0"},
		{"activity pollers one", func(c *Config) { c.Worker.ActivityTaskPollers = 1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(c)
			got := errorList(c.Validate())
			if tt.want == "" && len(got) != 0 || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSagaPoolSize(t *testing.T) {
	c := validConfig()
	setDB(c, "payments", func(d *Database) { d.PoolSize = 3 })
	c.Databases["reports"] = Database{PoolSize: 1}
	if got := c.SagaPoolSize(); got != 3 {
		t.Errorf("SagaPoolSize() = %d, want 3 (payments; reports is not the saga's)", got)
	}
	if got := Default().SagaPoolSize(); got != 0 {
		t.Errorf("SagaPoolSize() without databases = %d, want 0", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
