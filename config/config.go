// Package config loads and validates fedsaga's configuration: a TOML file,
// then environment overrides (FEDSAGA_ prefix, "__" for nesting), then
// ${NAME} expansion inside string values. It imports nothing of fedsaga.
package config

import "time"

// Config is fedsaga's whole configuration. Every field documents its default;
// the defaults themselves live in Default.
type Config struct {
	Log       Log                 `koanf:"log"`
	Temporal  Temporal            `koanf:"temporal"`
	Databases map[string]Database `koanf:"databases"`
	Saga      Saga                `koanf:"saga"`
	NATS      NATS                `koanf:"nats"`
	Worker    Worker              `koanf:"worker"`
}

// Log configures fedsaga's own log lines (zerolog).
type Log struct {
	// Level is trace, debug, info, warn or error. Default "info".
	// The environment variable FEDSAGA_LOG overrides it.
	Level string `koanf:"level"`
	// Format is "auto" (human-readable on a terminal, JSON lines otherwise),
	// "json" or "console". Default "auto".
	Format string `koanf:"format"`
}

// Temporal says where the Temporal frontend is and which task queue sagas use.
type Temporal struct {
	// Address is host:port of the Temporal frontend. Default "127.0.0.1:7233".
	Address string `koanf:"address"`
	// Namespace is the Temporal namespace. Default "default".
	Namespace string `koanf:"namespace"`
	// TaskQueue is the task queue workers poll and starters use.
	// Default "fedsaga-orders".
	TaskQueue string `koanf:"task_queue"`
}

// Database is one named PostgreSQL database. The names orders, inventory and
// payments are required.
type Database struct {
	// URL is a PostgreSQL connection URL. Required. Printed with its
	// password redacted.
	URL string `koanf:"url"`
	// PoolSize is the most connections the pool opens. Default 10.
	PoolSize int32 `koanf:"pool_size"`
	// PoolTimeout is the longest wait to acquire a connection before
	// PoolExhaustedError. Default 5s.
	PoolTimeout time.Duration `koanf:"pool_timeout"`
	// IdleMaxAge closes connections idle longer than this. Default 5m.
	IdleMaxAge time.Duration `koanf:"idle_max_age"`
	// StatementTimeout is PostgreSQL's statement_timeout for every
	// connection of the pool. Default 5s.
	StatementTimeout time.Duration `koanf:"statement_timeout"`
	// LogSlowQueries logs queries slower than this; 0 turns it off.
	// Default 200ms.
	LogSlowQueries time.Duration `koanf:"log_slow_queries"`
}

// Saga holds the limits of every saga run.
type Saga struct {
	// Timeout is how long the forward steps of a saga may take in all before
	// the saga compensates. Default 5m.
	Timeout time.Duration `koanf:"timeout"`
	// CompensationTimeout is how long one compensation is retried before it
	// counts as failed. Default 10m.
	CompensationTimeout time.Duration `koanf:"compensation_timeout"`
	// Mode is how the forward steps run: "regular" activities, or "local"
	// activities (less latency, fewer history events; compensations stay
	// regular activities). Default "regular".
	Mode string `koanf:"mode"`
	// ParallelCompensation runs the compensations at once instead of in
	// reverse order. Default false.
	ParallelCompensation bool `koanf:"parallel_compensation"`
	// ContinueWithError runs the remaining compensations when one fails
	// (sequential mode) before the saga waits for an operator. Default false.
	ContinueWithError bool `koanf:"continue_with_error"`
}

// Saga modes.
const (
	ModeRegular = "regular"
	ModeLocal   = "local"
)

// NATS is the connection to NATS and the JetStream streams fedsaga manages.
type NATS struct {
	// URL is the NATS server URL (a comma-separated list is allowed).
	// Default "nats://127.0.0.1:4222". Printed with any password redacted.
	URL string `koanf:"url"`
	// JetStream holds the streams, keyed by stream name.
	JetStream JetStream `koanf:"jetstream"`
}

// JetStream is the set of streams the worker creates when they are missing.
type JetStream struct {
	// Streams by name. The stream ORDERS carries the order events; by
	// default it has subjects ["fedsaga.order.>"].
	Streams map[string]Stream `koanf:"streams"`
}

// Stream is one JetStream stream.
type Stream struct {
	// Subjects the stream stores. Required, at least one.
	Subjects []string `koanf:"subjects"`
	// Replicas is the number of stream replicas, 1 to 5. Default 1.
	Replicas int `koanf:"replicas"`
	// MaxMsgs caps the messages kept; -1 means no limit. Default -1.
	MaxMsgs int64 `koanf:"max_msgs"`
	// MaxBytes caps the bytes kept; -1 means no limit. Default -1.
	MaxBytes int64 `koanf:"max_bytes"`
	// DuplicateWindow is how long JetStream remembers message ids.
	// Default 2m.
	DuplicateWindow time.Duration `koanf:"duplicate_window"`
}

// Worker configures the worker process.
type Worker struct {
	// StopTimeout is how long a stopping worker waits for running
	// activities before it cancels them. Default 30s.
	StopTimeout time.Duration `koanf:"stop_timeout"`
	// HTTPAddress is where the worker serves /healthz, /readyz and
	// /metrics (Prometheus); "" turns the server off. Default ":9464".
	HTTPAddress string `koanf:"http_address"`
	// DeploymentName and BuildID turn on Worker Deployments (versioning):
	// set both or neither. Default "" (unversioned).
	DeploymentName string `koanf:"deployment_name"`
	BuildID        string `koanf:"build_id"`
}

// OrdersStream is the name of the stream that carries the order events.
const OrdersStream = "ORDERS"

// RequiredDatabases are the database names every configuration must have.
var RequiredDatabases = []string{"orders", "inventory", "payments"}
