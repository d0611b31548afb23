// Package config loads and validates fedsaga's configuration: a TOML file,
// then environment overrides (FEDSAGA_ prefix, "__" for nesting), then
// ${NAME} expansion inside string values. It imports nothing of fedsaga.
package config

import "time"

// Config is fedsaga's whole configuration. Every field documents its default;
// the defaults themselves live in Default.
type Config struct {
	Log        Log                 `koanf:"log"`
	Temporal   Temporal            `koanf:"temporal"`
	Databases  map[string]Database `koanf:"databases"`
	Federation Federation          `koanf:"federation"`
	Saga       Saga                `koanf:"saga"`
	NATS       NATS                `koanf:"nats"`
	Events     Events              `koanf:"events"`
	Observers  []Observer          `koanf:"observers"`
	Worker     Worker              `koanf:"worker"`
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
	// PoolSize is the most connections a pool opens. Default 10. A database
	// has the saga's pool and one federated-read pool per read timeout
	// (their connections carry it as statement_timeout), each this size.
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

// Federation configures the batched reads across the databases and the
// read API (fedsaga serve).
type Federation struct {
	// BatchSize is the most keys one WHERE key = ANY($1) query takes.
	// Default 1000.
	BatchSize int `koanf:"batch_size"`
	// DefaultTimeout bounds every federated query, on the client (context
	// deadline) and on the server (statement_timeout). Default 5s.
	DefaultTimeout time.Duration `koanf:"default_timeout"`
	// DatabaseTimeouts overrides DefaultTimeout per database name.
	DatabaseTimeouts map[string]time.Duration `koanf:"database_timeouts"`
	// HTTPAddress is where `fedsaga serve` listens. Default ":8080".
	HTTPAddress string `koanf:"http_address"`
	// DefaultPageSize and MaxPageSize bound GET /v1/orders?limit=.
	// Defaults 50 and 1000.
	DefaultPageSize int `koanf:"default_page_size"`
	MaxPageSize     int `koanf:"max_page_size"`
	// Relations are the federated relations, declared once: NAME = {from,
	// to}, entities order, item, product, reservation, payment. A cycle is
	// refused when the configuration loads (CircularReferenceError).
	// Default: items (order→item), product (item→product), reservations
	// (order→reservation), payment (order→payment).
	Relations map[string]Relation `koanf:"relations"`
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
	// Auth is how fedsaga authenticates to NATS.
	Auth NATSAuth `koanf:"auth"`
	// TLS configures a TLS connection; empty: as the URL scheme says.
	TLS NATSTLS `koanf:"tls"`
	// JetStream holds the streams, keyed by stream name.
	JetStream JetStream `koanf:"jetstream"`
}

// NATS authentication types.
const (
	AuthNone         = "none"
	AuthToken        = "token"
	AuthUserPassword = "user_password"
	AuthNKey         = "nkey"
	AuthCredentials  = "credentials"
)

// NATSAuth is how fedsaga authenticates to NATS. Secrets are never printed
// or logged.
type NATSAuth struct {
	// Type is none, token, user_password, nkey or credentials.
	// Default "none".
	Type string `koanf:"type"`
	// Token for type token.
	Token Secret `koanf:"token"`
	// User and Password for type user_password.
	User     string `koanf:"user"`
	Password Secret `koanf:"password"`
	// NKeySeedFile is the file holding the NKey seed, for type nkey.
	NKeySeedFile string `koanf:"nkey_seed_file"`
	// CredentialsFile is a .creds file (JWT and seed), for type credentials.
	CredentialsFile string `koanf:"credentials_file"`
}

// NATSTLS is the TLS setup of the NATS connection.
type NATSTLS struct {
	// CAFile is a PEM file of the CAs to trust; "" uses the system's.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM), for
	// servers that verify clients; set both or neither.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
}

// JetStream is the set of streams the worker creates when they are missing.
type JetStream struct {
	// ManageStreams lets the worker create missing streams and update those
	// that differ from the configuration; false makes a missing or different
	// stream a start-up error (StreamNotFoundError). Default true.
	ManageStreams bool `koanf:"manage_streams"`
	// Streams by name. The stream ORDERS carries the order events; by
	// default it has subjects ["fedsaga.order.>"].
	Streams map[string]Stream `koanf:"streams"`
}

// Stream is one JetStream stream.
type Stream struct {
	// Subjects the stream stores. Required, at least one.
	Subjects []string `koanf:"subjects"`
	// Retention is limits, interest or workqueue. Default "limits".
	Retention string `koanf:"retention"`
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

// Events configures the outbox relay that publishes the events the saga
// could not.
type Events struct {
	// PublishTimeout is how long the saga's publish step retries before it
	// leaves the event to the relay. Default 2m.
	PublishTimeout time.Duration `koanf:"publish_timeout"`
	// RelayDelay leaves events younger than this to the saga's own publish
	// step. Default 5s.
	RelayDelay time.Duration `koanf:"relay_delay"`
	// RelayPoll is how often the relay looks for unpublished events besides
	// the outbox notifications. Default 5s.
	RelayPoll time.Duration `koanf:"relay_poll"`
	// RelayBatch is the most events the relay claims at once. Default 500.
	RelayBatch int `koanf:"relay_batch"`
}

// Observer forwards PostgreSQL notifications on a channel to a NATS
// subject ([[observers]]).
type Observer struct {
	// Channel is the PostgreSQL notification channel. Required.
	Channel string `koanf:"channel"`
	// NATSSubject is the subject the payloads go to. Required.
	NATSSubject string `koanf:"nats_subject"`
	// Database is the database to LISTEN on. Default "orders".
	Database string `koanf:"database"`
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

// The databases every configuration must have, by name.
const (
	OrdersDB    = "orders"
	InventoryDB = "inventory"
	PaymentsDB  = "payments"
)

// RequiredDatabases are the database names every configuration must have:
// every list of fedsaga's databases derives from it.
var RequiredDatabases = []string{OrdersDB, InventoryDB, PaymentsDB}
