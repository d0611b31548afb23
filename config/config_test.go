package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// isolate gives the test an empty working directory and an environment
// without FEDSAGA_ or TEMPORAL_ variables and with no Temporal profile
// file, so that neither the machine's environment nor a fedsaga.toml or
// temporal.toml lying around changes what Load sees.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) || strings.HasPrefix(name, "TEMPORAL_") {
			t.Setenv(name, "") // restores the value after the test
			os.Unsetenv(name)
		}
	}
	t.Setenv(EnvTemporalConfigFile, filepath.Join(dir, "no-temporal.toml"))
}

// writeConfig writes content to a new file and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fedsaga.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// others holds the required databases but orders.
const others = `
[databases.inventory]
url = "postgres://app@db:5432/inventory"
[databases.payments]
url = "host=db user=app password='pay pw' dbname=payments"
`

// minimal is the smallest valid configuration file.
const minimal = `
[databases.orders]
url = "postgres://app:orders-pw@db:5432/orders"
` + others

// errorList returns the messages of the *Error values in the tree err.
func errorList(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		out = append(out, err.Error())
	}
	if err != nil {
		walk(err)
	}
	return out
}

func TestDefault(t *testing.T) {
	c := Default()
	want := &Config{
		Log:       Log{Level: "info", Format: "auto"},
		Temporal:  Temporal{Address: "127.0.0.1:7233", Namespace: "default", TaskQueue: "fedsaga-orders", ManageSearchAttributes: true, GRPCCompression: CompressionGzip},
		Databases: map[string]Database{},
		Federation: Federation{
			BatchSize:        1000,
			DefaultTimeout:   5 * time.Second,
			DatabaseTimeouts: map[string]time.Duration{},
			HTTPAddress:      "127.0.0.1:8080",
			DefaultPageSize:  50,
			MaxPageSize:      1000,
			Relations: map[string]Relation{
				"items":        {From: "order", To: "item"},
				"product":      {From: "item", To: "product"},
				"reservations": {From: "order", To: "reservation"},
				"payment":      {From: "order", To: "payment"},
			},
			API: ReadAPI{Auth: APIAuthRequired, Tokens: []Secret{}, MetricsAddress: "127.0.0.1:9465", MaxIDs: 100, MaxIDLength: 128,
				ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute, WriteTimeout: 30 * time.Second,
				GraphQL: GraphQL{MaxDepth: 10, MaxCost: 5000}},
		},
		Saga: Saga{Timeout: 5 * time.Minute, CompensationTimeout: 10 * time.Minute, Mode: ModeRegular, NotifyChannel: "fedsaga_saga_steps"},
		NATS: NATS{
			URL:  "nats://127.0.0.1:4222",
			Auth: NATSAuth{Type: AuthNone},
			JetStream: JetStream{ManageStreams: true, Streams: map[string]Stream{
				"ORDERS":     {Subjects: []string{"fedsaga.order.>"}, Retention: "limits", Replicas: 1, MaxMsgs: -1, MaxBytes: -1, DuplicateWindow: 2 * time.Minute},
				"ORDERS_DLQ": {Subjects: []string{"fedsaga.dlq.>"}, Retention: "limits", Replicas: 1, MaxMsgs: -1, MaxBytes: -1, DuplicateWindow: 2 * time.Minute},
				"ORDERS_ADVISORIES": {Subjects: []string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.>"}, Retention: "workqueue",
					Replicas: 1, MaxMsgs: -1, MaxBytes: -1, DuplicateWindow: 2 * time.Minute},
			}, Consumers: map[string]Consumer{}},
		},
		Events: Events{PublishTimeout: 2 * time.Minute, RelayDelay: 5 * time.Second, RelayPoll: 5 * time.Second, RelayBatch: 500},
		Worker: Worker{StopTimeout: 30 * time.Second, HTTPAddress: ":9464",
			MaxConcurrentWorkflowTasks: 1000, WorkflowTaskPollers: 100, ActivityTaskPollers: 100},
		Codec: Codec{Keys: map[string]KeySource{}, CustomerIDAttribute: "plain", HTTPAddress: "127.0.0.1:8234",
			CORSOrigins: []string{"http://localhost:8233"}},
		Telemetry: Telemetry{Protocol: "grpc", SampleRatio: 1, ServiceName: "fedsaga"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant %+v", c, want)
	}
	wantDB := Database{PoolSize: 10, PoolTimeout: 5 * time.Second, IdleMaxAge: 5 * time.Minute,
		StatementTimeout: 5 * time.Second, LogSlowQueries: 200 * time.Millisecond}
	if got := DefaultDatabase(); got != wantDB {
		t.Errorf("DefaultDatabase() = %+v, want %+v", got, wantDB)
	}
	wantStream := Stream{Retention: "limits", Replicas: 1, MaxMsgs: -1, MaxBytes: -1, DuplicateWindow: 2 * time.Minute}
	if got := DefaultStream(); !reflect.DeepEqual(got, wantStream) {
		t.Errorf("DefaultStream() = %+v, want %+v", got, wantStream)
	}
	if got, want := DefaultObserver(), (Observer{Database: "orders"}); got != want {
		t.Errorf("DefaultObserver() = %+v, want %+v", got, want)
	}
	// Each call returns a fresh value: changing one leaves the next alone.
	c.Federation.Relations["x"] = Relation{From: "order", To: "order"}
	c.Federation.DatabaseTimeouts["orders"] = time.Second
	if d := Default(); len(d.Federation.Relations) != 4 || len(d.Federation.DatabaseTimeouts) != 0 {
		t.Errorf("Default() shares its maps between calls: %+v", d.Federation)
	}
	delete(c.Federation.Relations, "x")
	delete(c.Federation.DatabaseTimeouts, "orders")
	// Default has no databases, so it is not valid as it is.
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "databases.orders: required database is missing") {
		t.Errorf("Default().Validate() = %v, want the missing databases", err)
	}
}

func TestLoadDefaultsApplied(t *testing.T) {
	isolate(t)
	path := writeConfig(t, minimal+`
[databases.reports]
url = "postgres://app@db/reports"
pool_size = 3

[nats.jetstream.streams.AUDIT]
subjects = ["fedsaga.audit.>"]
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	db := func(url string) Database {
		d := DefaultDatabase()
		d.URL = url
		return d
	}
	want.Databases = map[string]Database{
		"orders":    db("postgres://app:orders-pw@db:5432/orders"),
		"inventory": db("postgres://app@db:5432/inventory"),
		"payments":  db("host=db user=app password='pay pw' dbname=payments"),
		"reports":   db("postgres://app@db/reports"),
	}
	reports := want.Databases["reports"]
	reports.PoolSize = 3
	want.Databases["reports"] = reports
	audit := DefaultStream()
	audit.Subjects = []string{"fedsaga.audit.>"}
	want.NATS.JetStream.Streams["AUDIT"] = audit
	want.Worker.MaxConcurrentActivities, want.Worker.MaxConcurrentLocalActivities = 10, 10 // the saga's pools, not reports
	if len(c.Observers) == 0 {
		c.Observers = nil // none, empty or nil alike
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadOverrides(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "file over defaults",
			file: minimal + `
[saga]
timeout = "90s"
[nats.jetstream.streams.ORDERS]
replicas = 3
`,
			check: func(t *testing.T, c *Config) {
				if c.Saga.Timeout != 90*time.Second || c.Saga.CompensationTimeout != 10*time.Minute {
					t.Errorf("saga = %+v", c.Saga)
				}
				s := c.NATS.JetStream.Streams["ORDERS"]
				if s.Replicas != 3 || s.MaxMsgs != -1 || !reflect.DeepEqual(s.Subjects, []string{"fedsaga.order.>"}) {
					t.Errorf("ORDERS = %+v", s)
				}
			},
		},
		{
			name: "integers from the environment are decimal",
			file: minimal,
			env: map[string]string{
				"FEDSAGA_DATABASES__ORDERS__POOL_SIZE": "010",
				"FEDSAGA_EVENTS__RELAY_BATCH":          " 20 ",
				"FEDSAGA_SAGA__CONTINUE_WITH_ERROR":    " true ",
			},
			check: func(t *testing.T, c *Config) {
				if c.Databases["orders"].PoolSize != 10 || c.Events.RelayBatch != 20 || !c.Saga.ContinueWithError {
					t.Errorf("pool_size = %d, relay_batch = %d, continue_with_error = %v; want 10, 20, true",
						c.Databases["orders"].PoolSize, c.Events.RelayBatch, c.Saga.ContinueWithError)
				}
			},
		},
		{
			name: "environment over file",
			file: minimal + "[saga]\ntimeout = \"90s\"\n",
			env: map[string]string{
				"FEDSAGA_SAGA__TIMEOUT":                   "2m",
				"FEDSAGA_DATABASES__ORDERS__POOL_SIZE":    "25",
				"FEDSAGA_TEMPORAL__TASK_QUEUE":            "other",
				"FEDSAGA_DATABASES__PAYMENTS__URL":        "postgres://env@db/payments",
				"FEDSAGA_WORKER__STOP_TIMEOUT":            "0s",
				"FEDSAGA_NATS__URL":                       "nats://a:4222,nats://b:4222",
				"FEDSAGA_DATABASES__ORDERS__IDLE_MAX_AGE": "1h",
			},
			check: func(t *testing.T, c *Config) {
				if c.Saga.Timeout != 2*time.Minute {
					t.Errorf("saga.timeout = %v, want 2m", c.Saga.Timeout)
				}
				if got := c.Databases["orders"]; got.PoolSize != 25 || got.IdleMaxAge != time.Hour || got.PoolTimeout != 5*time.Second {
					t.Errorf("databases.orders = %+v", got)
				}
				if c.Databases["payments"].URL != "postgres://env@db/payments" {
					t.Errorf("databases.payments.url = %q", c.Databases["payments"].URL)
				}
				if c.Temporal.TaskQueue != "other" || c.Worker.StopTimeout != 0 || c.NATS.URL != "nats://a:4222,nats://b:4222" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "saga and worker keys from the file",
			file: minimal + `
[saga]
mode = "local"
parallel_compensation = true
continue_with_error = true
[worker]
http_address = "127.0.0.1:9000"
deployment_name = "fedsaga"
build_id = "v2.1.0"
`,
			check: func(t *testing.T, c *Config) {
				want := Saga{Timeout: 5 * time.Minute, CompensationTimeout: 10 * time.Minute, Mode: ModeLocal,
					ParallelCompensation: true, ContinueWithError: true, NotifyChannel: DefaultNotifyChannel}
				if c.Saga != want {
					t.Errorf("saga = %+v, want %+v", c.Saga, want)
				}
				if want := (Worker{StopTimeout: 30 * time.Second, HTTPAddress: "127.0.0.1:9000", DeploymentName: "fedsaga", BuildID: "v2.1.0",
					MaxConcurrentActivities: 10, MaxConcurrentLocalActivities: 10, MaxConcurrentWorkflowTasks: 1000,
					WorkflowTaskPollers: 100, ActivityTaskPollers: 100}); c.Worker != want {
					t.Errorf("worker = %+v, want %+v", c.Worker, want)
				}
			},
		},
		{
			name: "saga and worker keys from the environment",
			file: minimal + "[saga]\nmode = \"local\"\nparallel_compensation = true\n",
			env: map[string]string{
				"FEDSAGA_SAGA__MODE":                  "regular",
				"FEDSAGA_SAGA__PARALLEL_COMPENSATION": "false",
				"FEDSAGA_SAGA__CONTINUE_WITH_ERROR":   "true",
				"FEDSAGA_WORKER__HTTP_ADDRESS":        "",
				"FEDSAGA_WORKER__DEPLOYMENT_NAME":     "fedsaga",
				"FEDSAGA_WORKER__BUILD_ID":            "${FS_TEST_BUILD}",
				"FS_TEST_BUILD":                       "abc123",
			},
			check: func(t *testing.T, c *Config) {
				if c.Saga.Mode != ModeRegular || c.Saga.ParallelCompensation || !c.Saga.ContinueWithError {
					t.Errorf("saga = %+v", c.Saga)
				}
				if c.Worker.HTTPAddress != "" || c.Worker.DeploymentName != "fedsaga" || c.Worker.BuildID != "abc123" {
					t.Errorf("worker = %+v", c.Worker)
				}
			},
		},
		{
			name: "upper-case stream keeps its spelling",
			file: minimal + "[nats.jetstream.streams.ORDERS]\nmax_bytes = 1024\n",
			env: map[string]string{
				"FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__MAX_MSGS": "5",
				"FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__SUBJECTS": "a.>, b.>",
			},
			check: func(t *testing.T, c *Config) {
				if len(c.NATS.JetStream.Streams) != 3 {
					t.Errorf("streams = %v, want ORDERS, ORDERS_DLQ and ORDERS_ADVISORIES only", c.NATS.JetStream.Streams)
				}
				s := c.NATS.JetStream.Streams["ORDERS"]
				if s.MaxMsgs != 5 || s.MaxBytes != 1024 || !reflect.DeepEqual(s.Subjects, []string{"a.>", "b.>"}) {
					t.Errorf("ORDERS = %+v", s)
				}
			},
		},
		{
			name: "upper-case stream from defaults only",
			file: minimal,
			env:  map[string]string{"FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__REPLICAS": "3"},
			check: func(t *testing.T, c *Config) {
				if got := c.NATS.JetStream.Streams; len(got) != 3 || got["ORDERS"].Replicas != 3 || got["ORDERS_DLQ"].Replicas != 1 {
					t.Errorf("streams = %+v", got)
				}
			},
		},
		{
			name: "databases from the environment only",
			env: map[string]string{
				"FEDSAGA_DATABASES__ORDERS__URL":    "postgres://a@db/orders",
				"FEDSAGA_DATABASES__INVENTORY__URL": "postgres://a@db/inventory",
				"FEDSAGA_DATABASES__PAYMENTS__URL":  "postgres://a@db/payments",
			},
			check: func(t *testing.T, c *Config) {
				want := DefaultDatabase()
				want.URL = "postgres://a@db/inventory"
				if got := c.Databases["inventory"]; got != want {
					t.Errorf("databases.inventory = %+v, want %+v", got, want)
				}
			},
		},
		{
			name: "FEDSAGA_LOG overrides log.level",
			file: minimal + "[log]\nlevel = \"warn\"\n",
			env:  map[string]string{"FEDSAGA_LOG": "debug", "FEDSAGA_LOG__LEVEL": "error", "FEDSAGA_LOG__FORMAT": "json"},
			check: func(t *testing.T, c *Config) {
				if c.Log.Level != "debug" || c.Log.Format != "json" {
					t.Errorf("log = %+v, want debug and json", c.Log)
				}
			},
		},
		{
			name: "FEDSAGA_ variables without __ are not keys",
			file: minimal,
			env:  map[string]string{"FEDSAGA_TEST_PG": "postgres://x", "FEDSAGA_TEMPORAL_BIN": "/bin/temporal", "FEDSAGA_CONFIG": ""},
			check: func(t *testing.T, c *Config) {
				if c.Temporal.Address != "127.0.0.1:7233" {
					t.Errorf("temporal = %+v", c.Temporal)
				}
			},
		},
		{
			name: "empty FEDSAGA_LOG is ignored",
			file: minimal + "[log]\nlevel = \"warn\"\n",
			env:  map[string]string{"FEDSAGA_LOG": ""},
			check: func(t *testing.T, c *Config) {
				if c.Log.Level != "warn" {
					t.Errorf("log.level = %q, want warn", c.Log.Level)
				}
			},
		},
		{
			name: "expansion in strings and lists",
			file: others + `
[temporal]
namespace = "ns-${FS_TEST_NS}"
[databases.orders]
url = "postgres://app:${FS_TEST_PW}@db/orders"
[nats.jetstream.streams.ORDERS]
subjects = ["${FS_TEST_PREFIX}.order.>", "literal.$${x}"]
`,
			env: map[string]string{
				"FS_TEST_NS":                   "prod",
				"FS_TEST_PW":                   "s3cret",
				"FS_TEST_PREFIX":               "acme",
				"FEDSAGA_TEMPORAL__TASK_QUEUE": "q-${FS_TEST_NS}",
			},
			check: func(t *testing.T, c *Config) {
				if c.Temporal.Namespace != "ns-prod" || c.Temporal.TaskQueue != "q-prod" {
					t.Errorf("temporal = %+v", c.Temporal)
				}
				if got := c.Databases["orders"].URL; got != "postgres://app:s3cret@db/orders" {
					t.Errorf("databases.orders.url = %q", got)
				}
				if got := c.NATS.JetStream.Streams["ORDERS"].Subjects; !reflect.DeepEqual(got, []string{"acme.order.>", "literal.${x}"}) {
					t.Errorf("subjects = %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string // each must be one of the reported problems
	}{
		{
			name: "unset variable names key and variable",
			file: others + "[databases.orders]\nurl = \"postgres://app:${FS_TEST_UNSET}@db/orders\"\n",
			want: []string{"config: databases.orders.url: environment variable FS_TEST_UNSET is not set"},
		},
		{
			name: "unset variable in a list",
			file: minimal + "[nats.jetstream.streams.ORDERS]\nsubjects = [\"a\", \"${FS_TEST_UNSET}\"]\n",
			want: []string{"config: nats.jetstream.streams.ORDERS.subjects[1]: environment variable FS_TEST_UNSET is not set"},
		},
		{
			name: "several bad references in one value",
			file: minimal + "[temporal]\nnamespace = \"${FS_TEST_UNSET}-${1x}\"\n",
			want: []string{
				"config: temporal.namespace: environment variable FS_TEST_UNSET is not set",
				`config: temporal.namespace: invalid reference "${...}": a variable name has letters, digits and "_"; write $${ for a literal "${"`,
			},
		},
		{
			name: "malformed reference",
			file: minimal + "[temporal]\nnamespace = \"${oops\"\n",
			want: []string{`config: temporal.namespace: unterminated "${"; write ${NAME}, or $${ for a literal "${"`},
		},
		{
			name: "unknown key",
			file: minimal + "[saga]\ntimout = \"5m\"\n",
			want: []string{`config: unknown key "saga.timout"; did you mean "saga.timeout"?`},
		},
		{
			name: "unknown key inside a database",
			file: others + "[databases.orders]\nurl = \"postgres://a@db/orders\"\npoolsize = 3\n",
			want: []string{`config: unknown key "databases.orders.poolsize"; did you mean "databases.orders.pool_size"?`},
		},
		{
			name: "unknown section",
			file: minimal + "[metrics]\nport = 9090\n",
			want: []string{`config: unknown key "metrics"`},
		},
		{
			name: "unknown key from the environment",
			file: minimal,
			env:  map[string]string{"FEDSAGA_WORKER__STOP_TIMOUT": "1s"},
			want: []string{`config: unknown key "worker.stop_timout" (from FEDSAGA_WORKER__STOP_TIMOUT); did you mean "worker.stop_timeout"?`},
		},
		{
			name: "bad duration",
			file: others + "[databases.orders]\nurl = \"postgres://a@db/orders\"\npool_timeout = \"5 seconds\"\n",
			want: []string{`config: databases.orders.pool_timeout: invalid duration "5 seconds"; use a Go duration such as "5s", "1m30s" or "200ms"`},
		},
		{
			name: "duration as a number",
			file: minimal + "[saga]\ntimeout = 300\n",
			want: []string{`config: saga.timeout: expected a duration string such as "5s", got integer 300; durations are strings such as "300ms" (if 300 meant milliseconds)`},
		},
		{
			name: "bad values from the environment",
			file: minimal,
			env: map[string]string{
				"FEDSAGA_SAGA__COMPENSATION_TIMEOUT":      "10",
				"FEDSAGA_DATABASES__ORDERS__POOL_SIZE":    "many",
				"FEDSAGA_DATABASES__INVENTORY__POOL_SIZE": "3000000000",
			},
			want: []string{
				`config: saga.compensation_timeout: invalid duration "10"; use a Go duration such as "5s", "1m30s" or "200ms" (from FEDSAGA_SAGA__COMPENSATION_TIMEOUT)`,
				`config: databases.orders.pool_size: invalid integer "many" (from FEDSAGA_DATABASES__ORDERS__POOL_SIZE)`,
				`config: databases.inventory.pool_size: 3000000000 is out of range for a 32-bit integer (from FEDSAGA_DATABASES__INVENTORY__POOL_SIZE)`,
			},
		},
		{
			name: "integers are decimal and empty values are not zero",
			file: minimal,
			env: map[string]string{
				"FEDSAGA_DATABASES__ORDERS__POOL_SIZE":    "0x10",
				"FEDSAGA_DATABASES__INVENTORY__POOL_SIZE": "1_0",
				"FEDSAGA_DATABASES__PAYMENTS__POOL_SIZE":  "",
				"FEDSAGA_EVENTS__RELAY_BATCH":             " ",
				"FEDSAGA_SAGA__CONTINUE_WITH_ERROR":       "",
				"FEDSAGA_NATS__JETSTREAM__MANAGE_STREAMS": " ",
			},
			want: []string{
				`config: databases.orders.pool_size: invalid integer "0x10" (from FEDSAGA_DATABASES__ORDERS__POOL_SIZE)`,
				`config: databases.inventory.pool_size: invalid integer "1_0" (from FEDSAGA_DATABASES__INVENTORY__POOL_SIZE)`,
				`config: databases.payments.pool_size: invalid integer "" (from FEDSAGA_DATABASES__PAYMENTS__POOL_SIZE)`,
				`config: events.relay_batch: invalid integer " " (from FEDSAGA_EVENTS__RELAY_BATCH)`,
				`config: saga.continue_with_error: invalid boolean ""; use true or false (from FEDSAGA_SAGA__CONTINUE_WITH_ERROR)`,
				`config: nats.jetstream.manage_streams: invalid boolean " "; use true or false (from FEDSAGA_NATS__JETSTREAM__MANAGE_STREAMS)`,
			},
		},
		{
			name: "an integer past 64 bits",
			file: minimal,
			env:  map[string]string{"FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__MAX_MSGS": "99999999999999999999"},
			want: []string{`config: nats.jetstream.streams.ORDERS.max_msgs: 99999999999999999999 is out of range for a 64-bit integer (from FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__MAX_MSGS)`},
		},
		{
			name: "wrong types",
			file: minimal + `
[temporal]
namespace = 5
[nats.jetstream.streams.ORDERS]
subjects = ["a", 1]
replicas = 1.5
`,
			want: []string{
				"config: temporal.namespace: expected a string, got integer 5",
				"config: nats.jetstream.streams.ORDERS.subjects[1]: expected a string, got integer 1",
				"config: nats.jetstream.streams.ORDERS.replicas: expected an integer, got float 1.5",
			},
		},
		{
			name: "saga mode and deployment",
			file: minimal + "[saga]\nmode = \"fast\"\n[worker]\nbuild_id = \"v2\"\n",
			env:  map[string]string{"FEDSAGA_SAGA__CONTINUE_WITH_ERROR": "yes please"},
			want: []string{
				`config: saga.continue_with_error: invalid boolean "yes please"; use true or false (from FEDSAGA_SAGA__CONTINUE_WITH_ERROR)`,
				`config: saga.mode: "fast" is not one of regular, local`,
				"config: worker.build_id: needs worker.deployment_name; with a deployment name and no build id, the build id is the binary's version (fedsaga version)",
			},
		},
		{
			name: "boolean of the wrong type",
			file: minimal + "[saga]\nparallel_compensation = \"true\"\ncontinue_with_error = 1\n",
			want: []string{
				"config: saga.continue_with_error: expected true or false, got integer 1",
			},
		},
		{
			name: "missing required database",
			file: "[databases.orders]\nurl = \"postgres://a@db/orders\"\n[databases.payments]\nurl = \"postgres://a@db/payments\"\n",
			want: []string{"config: databases.inventory: required database is missing; add [databases.inventory] with a url"},
		},
		{
			name: "several problems at once",
			file: others + `
[log]
level = "verbose"
[saga]
timout = "5m"
compensation_timeout = "soon"
[databases.orders]
pool_size = 0
url = ""
[nats.jetstream.streams.ORDERS]
replicas = 7
`,
			env: map[string]string{"FEDSAGA_NATS__URL": "http://127.0.0.1:4222"},
			want: []string{
				`config: unknown key "saga.timout"; did you mean "saga.timeout"?`,
				`config: saga.compensation_timeout: invalid duration "soon"; use a Go duration such as "5s", "1m30s" or "200ms"`,
				`config: log.level: "verbose" is not one of trace, debug, info, warn, error`,
				"config: databases.orders.url: required; set a postgres:// URL",
				"config: databases.orders.pool_size: must be at least 1, got 0",
				"config: nats.url: url must start with nats://, tls://, ws:// or wss:// (from FEDSAGA_NATS__URL)",
				"config: nats.jetstream.streams.ORDERS.replicas: must be from 1 to 5, got 7",
			},
		},
		{
			name: "environment variable that names no key",
			file: minimal,
			env:  map[string]string{"FEDSAGA_SAGA____TIMEOUT": "1m"},
			want: []string{`config: environment variable FEDSAGA_SAGA____TIMEOUT names no key; write FEDSAGA_ then the key's levels separated by "__", such as FEDSAGA_SAGA__TIMEOUT`},
		},
		{
			name: "toml syntax error",
			file: "[saga\n",
			want: []string{"fedsaga.toml:1:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("FS_TEST_UNSET", "")
			os.Unsetenv("FS_TEST_UNSET")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(writeConfig(t, tt.file))
			if err == nil {
				t.Fatalf("Load succeeded with %+v", c)
			}
			if c != nil {
				t.Errorf("Load returned a Config with its error")
			}
			got := errorList(err)
			if strings.HasSuffix(tt.name, "syntax error") {
				if len(got) != 1 || !strings.Contains(got[0], tt.want[0]) {
					t.Errorf("got %q, want a message with %q", got, tt.want[0])
				}
				return
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("missing problem\n  %s\ngot\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n  %s", len(got), len(tt.want), strings.Join(got, "\n  "))
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestLoadErrorTypes(t *testing.T) {
	isolate(t)
	_, err := Load(writeConfig(t, minimal+"[saga]\ntimout = \"5m\"\n"))
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("errors.Is(%v, ErrUnknownKey) = false", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "saga.timout" {
		t.Errorf("errors.As gives %+v, want key saga.timout", ce)
	}
}

func TestLoadPath(t *testing.T) {
	t.Run("explicit missing path", func(t *testing.T) {
		isolate(t)
		missing := filepath.Join(t.TempDir(), "nope.toml")
		_, err := Load(missing)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Errorf("Load(%q) = %v, want a not-exist error naming the path", missing, err)
		}
	})
	t.Run("FEDSAGA_CONFIG missing", func(t *testing.T) {
		isolate(t)
		missing := filepath.Join(t.TempDir(), "nope.toml")
		t.Setenv(EnvConfig, missing)
		_, err := Load("")
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), EnvConfig) {
			t.Errorf("Load() = %v, want a not-exist error naming the path and %s", err, EnvConfig)
		}
	})
	t.Run("FEDSAGA_CONFIG used", func(t *testing.T) {
		isolate(t)
		path := writeConfig(t, minimal+"[temporal]\nnamespace = \"from-env-path\"\n")
		t.Setenv(EnvConfig, path)
		if got := ResolvePath(""); got != path {
			t.Errorf("ResolvePath() = %q, want %q", got, path)
		}
		c, err := Load("")
		if err != nil || c.Temporal.Namespace != "from-env-path" {
			t.Errorf("Load() = %+v, %v", c, err)
		}
	})
	t.Run("explicit path wins over FEDSAGA_CONFIG", func(t *testing.T) {
		isolate(t)
		t.Setenv(EnvConfig, "/nonexistent/fedsaga.toml")
		path := writeConfig(t, minimal)
		if got := ResolvePath(path); got != path {
			t.Errorf("ResolvePath(%q) = %q", path, got)
		}
		if _, err := Load(path); err != nil {
			t.Error(err)
		}
	})
	t.Run("default file", func(t *testing.T) {
		isolate(t)
		if err := os.WriteFile(DefaultPath, []byte(minimal+"[temporal]\nnamespace = \"from-cwd\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := ResolvePath(""); got != DefaultPath {
			t.Errorf("ResolvePath() = %q, want %q", got, DefaultPath)
		}
		c, err := Load("")
		if err != nil || c.Temporal.Namespace != "from-cwd" {
			t.Errorf("Load() = %+v, %v", c, err)
		}
	})
	t.Run("no file at all", func(t *testing.T) {
		isolate(t)
		if got := ResolvePath(""); got != "" {
			t.Errorf("ResolvePath() = %q, want none", got)
		}
		_, err := Load("")
		if err == nil || !strings.Contains(err.Error(), "databases.orders: required database is missing") {
			t.Errorf("Load() = %v, want only the missing databases", err)
		}
		for _, name := range RequiredDatabases {
			t.Setenv("FEDSAGA_DATABASES__"+strings.ToUpper(name)+"__URL", "postgres://a@db/"+name)
		}
		if _, err := Load(""); err != nil {
			t.Errorf("Load() with databases from the environment: %v", err)
		}
	})
}

func validConfig() *Config {
	c := Default()
	for _, name := range RequiredDatabases {
		db := DefaultDatabase()
		db.URL = "postgres://app:pw@db:5432/" + name
		c.Databases[name] = db
	}
	c.deriveSlots() // as Load does
	return c
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // "" for valid
	}{
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, `config: log.level: "verbose" is not one of trace, debug, info, warn, error`},
		{"log format", func(c *Config) { c.Log.Format = "text" }, `config: log.format: "text" is not one of auto, json, console`},
		{"temporal address", func(c *Config) { c.Temporal.Address = "" }, "config: temporal.address: must not be empty"},
		{"temporal namespace", func(c *Config) { c.Temporal.Namespace = " " }, "config: temporal.namespace: must not be empty"},
		{"task queue", func(c *Config) { c.Temporal.TaskQueue = "" }, "config: temporal.task_queue: must not be empty"},
		{"missing database", func(c *Config) { delete(c.Databases, "payments") }, "config: databases.payments: required database is missing; add [databases.payments] with a url"},
		{"database name", func(c *Config) { c.Databases["Reports-1"] = c.Databases["orders"] }, `config: databases.Reports-1: invalid database name "Reports-1"; use lower-case letters, digits and "_", starting with a letter`},
		{"database url empty", func(c *Config) { setDB(c, "orders", func(d *Database) { d.URL = "" }) }, "config: databases.orders.url: required; set a postgres:// URL"},
		{"database url scheme", func(c *Config) { setDB(c, "orders", func(d *Database) { d.URL = "mysql://a:b@db/x" }) }, `config: databases.orders.url: scheme "mysql" is not postgres:// or postgresql://`},
		{"database url unparsable", func(c *Config) { setDB(c, "orders", func(d *Database) { d.URL = "postgres://a:p/w@db/x" }) },
			`config: databases.orders.url: holds an "@" after the host; percent-encode "@", ":", "/", "?", "#", "&" and spaces in the user name and password (%40, %3A, %2F, %3F, %23, %26, %20)`},
		{"database url keyword/value", func(c *Config) { setDB(c, "orders", func(d *Database) { d.URL = "host=db dbname=orders" }) }, ""},
		{"database url keyword/value with a URL inside", func(c *Config) {
			setDB(c, "orders", func(d *Database) { d.URL = "host=db password=pw application_name=http://x" })
		}, ""},
		{"database url keyword/value naming files that do not exist", func(c *Config) {
			setDB(c, "orders", func(d *Database) {
				d.URL = "host=db sslmode=verify-full sslrootcert=/nonexistent/ca.pem sslcert=/nonexistent/c.pem sslkey=/nonexistent/c.key"
			})
		}, ""},
		{"database url keyword/value naming a service", func(c *Config) {
			setDB(c, "orders", func(d *Database) { d.URL = "service=orders servicefile=/nonexistent/pg_service.conf" })
		}, ""},
		{"database url postgresql", func(c *Config) { setDB(c, "orders", func(d *Database) { d.URL = "postgresql:///orders?host=/run/pg" }) }, ""},
		{"database url bad keyword/value", func(c *Config) { setDB(c, "orders", func(d *Database) { d.URL = "host=db password='x" }) },
			"config: databases.orders.url: is neither a postgres:// URL nor a keyword=value connection string: unterminated quoted string in connection info string"},
		{"pool size", func(c *Config) { setDB(c, "orders", func(d *Database) { d.PoolSize = 0 }) }, "config: databases.orders.pool_size: must be at least 1, got 0"},
		{"pool timeout", func(c *Config) { setDB(c, "orders", func(d *Database) { d.PoolTimeout = 0 }) }, "config: databases.orders.pool_timeout: must be more than 0s, got 0s"},
		{"idle max age", func(c *Config) { setDB(c, "orders", func(d *Database) { d.IdleMaxAge = -time.Second }) }, "config: databases.orders.idle_max_age: must be more than 0s, got -1s"},
		{"statement timeout", func(c *Config) { setDB(c, "orders", func(d *Database) { d.StatementTimeout = 0 }) }, "config: databases.orders.statement_timeout: must be more than 0s, got 0s"},
		{"slow queries off", func(c *Config) { setDB(c, "orders", func(d *Database) { d.LogSlowQueries = 0 }) }, ""},
		{"slow queries negative", func(c *Config) { setDB(c, "orders", func(d *Database) { d.LogSlowQueries = -1 }) }, "config: databases.orders.log_slow_queries: must not be negative (0s turns it off), got -1ns"},
		{"saga timeout", func(c *Config) { c.Saga.Timeout = 0 }, "config: saga.timeout: must be more than 0s, got 0s"},
		{"compensation timeout", func(c *Config) { c.Saga.CompensationTimeout = 0 }, "config: saga.compensation_timeout: must be more than 0s, got 0s"},
		{"saga mode local", func(c *Config) { c.Saga.Mode = ModeLocal }, ""},
		{"grpc compression unknown", func(c *Config) { c.Temporal.GRPCCompression = "zstd" },
			`config: temporal.grpc_compression: "zstd" is not one of gzip, none`},
		{"saga mode unknown", func(c *Config) { c.Saga.Mode = "fast" }, `config: saga.mode: "fast" is not one of regular, local`},
		{"saga mode empty", func(c *Config) { c.Saga.Mode = "" }, `config: saga.mode: "" is not one of regular, local`},
		{"saga mode is case-sensitive", func(c *Config) { c.Saga.Mode = "Local" }, `config: saga.mode: "Local" is not one of regular, local`},
		{"parallel compensation", func(c *Config) { c.Saga.ParallelCompensation = true }, ""},
		{"continue with error", func(c *Config) { c.Saga.ContinueWithError = true }, ""},
		{"nats url empty", func(c *Config) { c.NATS.URL = "" }, "config: nats.url: must not be empty; set a nats:// URL"},
		{"nats url list", func(c *Config) { c.NATS.URL = "nats://a:4222, tls://b:4222,ws://c,wss://u:p@d" }, ""},
		{"nats url scheme", func(c *Config) { c.NATS.URL = "nats://a:4222,http://b:4222" }, "config: nats.url: entry 2 must start with nats://, tls://, ws:// or wss://"},
		{"nats url empty entry", func(c *Config) { c.NATS.URL = "nats://a:4222,,nats://b" }, "config: nats.url: entry 2 is empty"},
		{"nats url no host", func(c *Config) { c.NATS.URL = "nats://" }, "config: nats.url: url has no host"},
		{"orders stream missing", func(c *Config) { delete(c.NATS.JetStream.Streams, "ORDERS") }, "config: nats.jetstream.streams.ORDERS: required stream is missing; add [nats.jetstream.streams.ORDERS] with its subjects"},
		{"stream name case", func(c *Config) { c.NATS.JetStream.Streams["orders"] = c.NATS.JetStream.Streams["ORDERS"] }, `config: nats.jetstream.streams.orders: stream names are case-sensitive; the order events stream is "ORDERS"`},
		{"stream name", func(c *Config) { c.NATS.JetStream.Streams["A.B"] = c.NATS.JetStream.Streams["ORDERS"] }, `config: nats.jetstream.streams.A.B: invalid stream name "A.B"; it must not hold spaces, ".", "*", ">", "/" or "\"`},
		{"subjects", func(c *Config) { setStream(c, func(s *Stream) { s.Subjects = nil }) }, "config: nats.jetstream.streams.ORDERS.subjects: must list at least one subject"},
		{"empty subject", func(c *Config) { setStream(c, func(s *Stream) { s.Subjects = []string{"a", ""} }) }, `config: nats.jetstream.streams.ORDERS.subjects[1]: invalid subject ""; it must not be empty or hold spaces`},
		{"replicas low", func(c *Config) { setStream(c, func(s *Stream) { s.Replicas = 0 }) }, "config: nats.jetstream.streams.ORDERS.replicas: must be from 1 to 5, got 0"},
		{"replicas high", func(c *Config) { setStream(c, func(s *Stream) { s.Replicas = 6 }) }, "config: nats.jetstream.streams.ORDERS.replicas: must be from 1 to 5, got 6"},
		{"replicas five", func(c *Config) { setStream(c, func(s *Stream) { s.Replicas = 5 }) }, ""},
		{"max msgs zero", func(c *Config) { setStream(c, func(s *Stream) { s.MaxMsgs = 0 }) }, "config: nats.jetstream.streams.ORDERS.max_msgs: must be -1 (no limit) or more than 0, got 0"},
		{"max msgs low", func(c *Config) { setStream(c, func(s *Stream) { s.MaxMsgs = -2 }) }, "config: nats.jetstream.streams.ORDERS.max_msgs: must be -1 (no limit) or more than 0, got -2"},
		{"max bytes", func(c *Config) { setStream(c, func(s *Stream) { s.MaxBytes = 0 }) }, "config: nats.jetstream.streams.ORDERS.max_bytes: must be -1 (no limit) or more than 0, got 0"},
		{"max bytes set", func(c *Config) { setStream(c, func(s *Stream) { s.MaxBytes = 1 << 30 }) }, ""},
		{"duplicate window", func(c *Config) { setStream(c, func(s *Stream) { s.DuplicateWindow = 0 }) }, "config: nats.jetstream.streams.ORDERS.duplicate_window: must be more than 0s, got 0s"},
		{"stop timeout zero", func(c *Config) { c.Worker.StopTimeout = 0 }, ""},
		{"http address off", func(c *Config) { c.Worker.HTTPAddress = "" }, ""},
		{"http address bad", func(c *Config) { c.Worker.HTTPAddress = "9464" }, `config: worker.http_address: want host:port (e.g. ":9464") or "" to turn it off, got "9464"`},
		{"http address host and port", func(c *Config) { c.Worker.HTTPAddress = "127.0.0.1:9464" }, ""},
		{"http address IPv6", func(c *Config) { c.Worker.HTTPAddress = "[::1]:9464" }, ""},
		{"http address no port", func(c *Config) { c.Worker.HTTPAddress = "localhost" }, `config: worker.http_address: want host:port (e.g. ":9464") or "" to turn it off, got "localhost"`},
		{"deployment", func(c *Config) { c.Worker.DeploymentName, c.Worker.BuildID = "fedsaga", "v2.1.0" }, ""},
		{"deployment name only: the build id is the version", func(c *Config) { c.Worker.DeploymentName = "fedsaga" }, ""},
		{"build id only", func(c *Config) { c.Worker.BuildID = "v2.1.0" },
			"config: worker.build_id: needs worker.deployment_name; with a deployment name and no build id, the build id is the binary's version (fedsaga version)"},
		{"stop timeout negative", func(c *Config) { c.Worker.StopTimeout = -time.Second }, "config: worker.stop_timeout: must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(c)
			err := c.Validate()
			got := errorList(err)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("Validate() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), tt.want)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := validConfig()
	c.Log.Level = ""
	c.Saga.Timeout = 0
	delete(c.Databases, "inventory")
	setStream(c, func(s *Stream) { s.Replicas = 9 })
	c.Saga.Mode = "fast"
	c.Worker.BuildID = "v2"
	if got := errorList(c.Validate()); len(got) != 6 {
		t.Errorf("Validate() reported %d problems, want 6:\n  %s", len(got), strings.Join(got, "\n  "))
	}
	var nilConfig *Config
	if err := nilConfig.Validate(); err == nil {
		t.Error("(*Config)(nil).Validate() = nil")
	}
}

func setDB(c *Config, name string, f func(*Database)) {
	db := c.Databases[name]
	f(&db)
	c.Databases[name] = db
}

func setStream(c *Config, f func(*Stream)) {
	s := c.NATS.JetStream.Streams[OrdersStream]
	s.Subjects = append([]string(nil), s.Subjects...)
	f(&s)
	c.NATS.JetStream.Streams[OrdersStream] = s
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://app:s3cret@db:5432/orders", "postgres://app:[REDACTED]@db:5432/orders"},
		{"postgresql://app:s%40cret@db/orders?sslmode=require", "postgresql://app:[REDACTED]@db/orders?sslmode=require"},
		{"postgres://app@db/orders", "postgres://app@db/orders"},
		{"postgres://app:@db/orders", "postgres://app:@db/orders"},
		{"postgres://db/orders?user=app&password=s3cret&sslmode=verify-full", "postgres://db/orders?user=app&password=[REDACTED]&sslmode=verify-full"},
		{"postgres://db/orders?sslpassword=keypw#frag", "postgres://db/orders?sslpassword=[REDACTED]"},
		{"postgres://app:s3cret@h1:5432,h2:5432/orders", "postgres://app:[REDACTED]@h1:5432,h2:5432/orders"},
		{"postgres://app:p/ss@db/orders", "postgres://app:[REDACTED]@db/orders"},
		{"postgres://app:p?ss@db/orders", "postgres://app:[REDACTED]@db/orders"},
		{"host=db user=app password=s3cret dbname=orders", "host=db user=app password=[REDACTED] dbname=orders"},
		{"host=db password = 'two words' sslpassword=x", "host=db password = [REDACTED] sslpassword=[REDACTED]"},
		{`password='it\'s' host=db`, "password=[REDACTED] host=db"},
		{"host=db password='unterminated", "host=db password=[REDACTED]"},
		{"host=db password='two words, unterminated", "host=db password=[REDACTED]"},
		{"host=db password=s3cret application_name=http://x", "host=db password=[REDACTED] application_name=http://x"},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:pw@a:4222,nats://b:4222", "nats://user:[REDACTED]@a:4222,nats://b:4222"},
		{"nats://a:4222, tls://user:pw@b:4222", "nats://a:4222, tls://user:[REDACTED]@b:4222"},
		{"nats://s3cret-token@a:4222", "nats://[REDACTED]@a:4222"},
		{"nats://user:pa,ss@a:4222", "nats://user:[REDACTED]@a:4222"},
		{"user:pw@a:4222", "user:[REDACTED]@a:4222"},
		{"a:4222", "a:4222"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecret(t *testing.T) {
	s := Secret("s3cret")
	var outputs []string
	for _, verb := range []string{"%v", "%s", "%q", "%#v", "%+v", "%x", "%d", "%10s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s))
	}
	outputs = append(outputs, fmt.Sprintf("%v", struct{ Token Secret }{s}), fmt.Sprint(s), s.GoString())
	j, err := json.Marshal(map[string]Secret{"token": s})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := s.MarshalText()
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("connect", "token", s)
	outputs = append(outputs, string(j), string(text), logged.String())
	for _, out := range outputs {
		if strings.Contains(out, "s3cret") || strings.Contains(out, hexOf("s3cret")) {
			t.Errorf("secret shown in %q", out)
		}
	}
	if string(j) != `{"token":"[REDACTED]"}` || s.String() != "[REDACTED]" || s.Value() != "s3cret" {
		t.Errorf("json %s, String %q, Value %q", j, s.String(), s.Value())
	}
	if empty := Secret(""); empty.String() != "" {
		t.Errorf("empty Secret shows %q", empty.String())
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

func TestRedacted(t *testing.T) {
	c := validConfig()
	m := c.Redacted()
	saga := m["saga"].(map[string]any)
	if want := map[string]any{"timeout": "5m0s", "compensation_timeout": "10m0s", "mode": "regular",
		"parallel_compensation": false, "continue_with_error": false, "notify_steps": false, "notify_channel": "fedsaga_saga_steps"}; !reflect.DeepEqual(saga, want) {
		t.Errorf("saga = %v, want %v", saga, want)
	}
	if want := map[string]any{"stop_timeout": "30s", "http_address": ":9464", "deployment_name": "", "build_id": "",
		"max_concurrent_activities": 10, "max_concurrent_local_activities": 10, "max_concurrent_workflow_tasks": 1000,
		"workflow_task_pollers": 100, "activity_task_pollers": 100, "pprof": false}; !reflect.DeepEqual(m["worker"], want) {
		t.Errorf("worker = %v, want %v", m["worker"], want)
	}
	orders := m["databases"].(map[string]any)["orders"].(map[string]any)
	if orders["url"] != "postgres://app:[REDACTED]@db:5432/orders" || orders["pool_size"] != int32(10) || orders["log_slow_queries"] != "200ms" {
		t.Errorf("databases.orders = %v", orders)
	}
	stream := m["nats"].(map[string]any)["jetstream"].(map[string]any)["streams"].(map[string]any)["ORDERS"].(map[string]any)
	if !reflect.DeepEqual(stream["subjects"], []string{"fedsaga.order.>"}) || stream["max_msgs"] != int64(-1) {
		t.Errorf("ORDERS = %v", stream)
	}
	fed := m["federation"].(map[string]any)
	if fed["batch_size"] != 1000 || fed["default_timeout"] != "5s" || fed["http_address"] != "127.0.0.1:8080" ||
		!reflect.DeepEqual(fed["database_timeouts"], map[string]any{}) ||
		!reflect.DeepEqual(fed["relations"].(map[string]any)["product"], map[string]any{"from": "item", "to": "product"}) {
		t.Errorf("federation = %v", fed)
	}
	if obs, ok := m["observers"].([]map[string]any); !ok || len(obs) != 0 {
		t.Errorf("observers = %#v, want an empty list", m["observers"])
	}

	// Secrets are masked; durations of maps and observers are converted.
	sc := validConfig()
	sc.NATS.Auth = NATSAuth{Type: AuthUserPassword, User: "u", Password: "nats-s3cret", Token: "tok-s3cret"}
	sc.Federation.DatabaseTimeouts["orders"] = 1500 * time.Millisecond
	sc.Observers = []Observer{{Channel: "ch", NATSSubject: "a.b", Database: "orders"}}
	sm := sc.Redacted()
	if want := map[string]any{"type": "user_password", "user": "u", "password": "[REDACTED]", "token": "[REDACTED]",
		"nkey_seed_file": "", "credentials_file": ""}; !reflect.DeepEqual(sm["nats"].(map[string]any)["auth"], want) {
		t.Errorf("nats.auth = %v, want %v", sm["nats"].(map[string]any)["auth"], want)
	}
	if got := sm["federation"].(map[string]any)["database_timeouts"]; !reflect.DeepEqual(got, map[string]any{"orders": "1.5s"}) {
		t.Errorf("federation.database_timeouts = %v", got)
	}
	if want := []map[string]any{{"channel": "ch", "nats_subject": "a.b", "database": "orders"}}; !reflect.DeepEqual(sm["observers"], want) {
		t.Errorf("observers = %#v, want %#v", sm["observers"], want)
	}
	if sc.NATS.Auth.Password.Value() != "nats-s3cret" || sc.NATS.Auth.Token.Value() != "tok-s3cret" {
		t.Error("Redacted changed the secrets of the Config")
	}

	// Every key of the Config, and only those, appear.
	c.Databases = map[string]Database{"orders": c.Databases["orders"]}
	var keys []string
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flatten(prefix+k+".", sub)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	flatten("", c.Redacted())
	slices.Sort(keys)
	want := []string{
		"codec.active_key", "codec.allow_unauthenticated", "codec.auth_token", "codec.cors_origins",
		"codec.customer_id_attribute", "codec.customer_id_key.env", "codec.customer_id_key.file",
		"codec.enabled", "codec.http_address",
		"databases.orders.idle_max_age", "databases.orders.log_queries", "databases.orders.log_slow_queries", "databases.orders.pool_size",
		"databases.orders.pool_timeout", "databases.orders.statement_timeout", "databases.orders.url",
		"events.publish_timeout", "events.relay_batch", "events.relay_delay", "events.relay_poll",
		"federation.api.auth", "federation.api.graphql.introspection", "federation.api.graphql.max_cost",
		"federation.api.graphql.max_depth", "federation.api.idle_timeout", "federation.api.max_id_length", "federation.api.max_ids",
		"federation.api.metrics_address", "federation.api.read_timeout", "federation.api.tls.cert_file",
		"federation.api.tls.client_ca_file", "federation.api.tls.key_file", "federation.api.tokens", "federation.api.write_timeout",
		"federation.batch_size", "federation.default_page_size", "federation.default_timeout",
		"federation.http_address", "federation.max_page_size",
		"federation.relations.items.from", "federation.relations.items.to",
		"federation.relations.payment.from", "federation.relations.payment.to",
		"federation.relations.product.from", "federation.relations.product.to",
		"federation.relations.reservations.from", "federation.relations.reservations.to",
		"log.format", "log.level",
		"nats.auth.credentials_file", "nats.auth.nkey_seed_file", "nats.auth.password", "nats.auth.token", "nats.auth.type", "nats.auth.user",
		"nats.jetstream.manage_streams",
		"nats.jetstream.streams.ORDERS.duplicate_window", "nats.jetstream.streams.ORDERS.max_bytes",
		"nats.jetstream.streams.ORDERS.max_msgs", "nats.jetstream.streams.ORDERS.replicas",
		"nats.jetstream.streams.ORDERS.retention", "nats.jetstream.streams.ORDERS.subjects",
		"nats.jetstream.streams.ORDERS_ADVISORIES.duplicate_window", "nats.jetstream.streams.ORDERS_ADVISORIES.max_bytes",
		"nats.jetstream.streams.ORDERS_ADVISORIES.max_msgs", "nats.jetstream.streams.ORDERS_ADVISORIES.replicas",
		"nats.jetstream.streams.ORDERS_ADVISORIES.retention", "nats.jetstream.streams.ORDERS_ADVISORIES.subjects",
		"nats.jetstream.streams.ORDERS_DLQ.duplicate_window", "nats.jetstream.streams.ORDERS_DLQ.max_bytes",
		"nats.jetstream.streams.ORDERS_DLQ.max_msgs", "nats.jetstream.streams.ORDERS_DLQ.replicas",
		"nats.jetstream.streams.ORDERS_DLQ.retention", "nats.jetstream.streams.ORDERS_DLQ.subjects",
		"nats.partitions.count",
		"nats.tls.ca_file", "nats.tls.cert_file", "nats.tls.key_file", "nats.url",
		"observers",
		"saga.compensation_timeout", "saga.continue_with_error", "saga.mode", "saga.notify_channel", "saga.notify_steps",
		"saga.parallel_compensation", "saga.timeout",
		"telemetry.enabled", "telemetry.endpoint", "telemetry.protocol", "telemetry.sample_ratio", "telemetry.service_name",
		"temporal.address", "temporal.api_key", "temporal.grpc_compression", "temporal.manage_search_attributes", "temporal.namespace", "temporal.task_queue",
		"temporal.tls.ca_file", "temporal.tls.cert_file", "temporal.tls.disabled", "temporal.tls.enabled",
		"temporal.tls.key_file", "temporal.tls.server_name",
		"worker.activity_task_pollers", "worker.build_id", "worker.deployment_name", "worker.http_address",
		"worker.max_concurrent_activities", "worker.max_concurrent_local_activities", "worker.max_concurrent_workflow_tasks",
		"worker.pprof", "worker.stop_timeout", "worker.workflow_task_pollers",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("Redacted() keys =\n%q\nwant\n%q", keys, want)
	}
	if c.Databases["orders"].URL != "postgres://app:pw@db:5432/orders" {
		t.Error("Redacted changed the Config")
	}
}

func TestPrint(t *testing.T) {
	isolate(t)
	t.Setenv("FEDSAGA_NATS__URL", "nats://natsuser:nats-pw@127.0.0.1:4222")
	c, err := Load(writeConfig(t, minimal+`
[saga]
mode = "local"
continue_with_error = true
[worker]
deployment_name = "fedsaga"
build_id = "v2"
[databases.reports]
url = "postgres://app@db/$${x}"
[nats.jetstream.streams.AUDIT]
subjects = ["a.>", "b.>"]
max_bytes = 1048576
`))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	for _, secret := range []string{"orders-pw", "pay pw", "nats-pw"} {
		if strings.Contains(printed, secret) {
			t.Errorf("Print shows %q:\n%s", secret, printed)
		}
	}
	for _, want := range []string{
		"postgres://app:[REDACTED]@db:5432/orders",
		"password=[REDACTED]",
		"nats://natsuser:[REDACTED]@127.0.0.1:4222",
		"timeout = '5m0s'",
		"mode = 'local'",
		"continue_with_error = true",
		"parallel_compensation = false",
		"build_id = 'v2'",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("Print lacks %q:\n%s", want, printed)
		}
	}

	// What Print writes loads again, the redacted secrets aside: they make
	// the URLs that held them invalid, and nothing else.
	os.Unsetenv("FEDSAGA_NATS__URL")
	_, err = Load(writeConfig(t, printed))
	for _, msg := range errorList(err) {
		if !strings.HasPrefix(msg, "config: databases.orders.url: ") && !strings.HasPrefix(msg, "config: nats.url: ") {
			t.Errorf("loading the printed configuration: %s", msg)
		}
	}
	// With the secrets put back, it loads as the configuration printed.
	again, err := Load(writeConfig(t, strings.ReplaceAll(printed, redactedText, "pw")))
	if err != nil {
		t.Fatalf("loading the printed configuration: %v\n%s", err, printed)
	}
	unredact := func(s string) string { return strings.ReplaceAll(RedactURL(s), redactedText, "pw") }
	for name, db := range c.Databases {
		db.URL = unredact(db.URL)
		c.Databases[name] = db
	}
	c.NATS.URL = unredact(c.NATS.URL)
	if !reflect.DeepEqual(again, c) {
		t.Errorf("printed configuration loads as\n%+v\nwant\n%+v", again, c)
	}
	if got := again.Databases["reports"].URL; got != "postgres://app@db/${x}" {
		t.Errorf("databases.reports.url = %q after printing, want a literal ${x}", got)
	}
}
