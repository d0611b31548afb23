// Package config loads and validates fedsaga's configuration: a TOML file,
// then environment overrides (FEDSAGA_ prefix, "__" for nesting), then
// ${NAME} expansion inside string values. Of fedsaga it imports only
// federation/relation, which decides the valid relations, and events, which
// decides the event types and subjects.
package config

import (
	"time"

	"github.com/fedsaga/fedsaga/federation/relation"
)

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
	Codec      Codec               `koanf:"codec"` // payload encryption, the codec server, CustomerId.

	Telemetry Telemetry `koanf:"telemetry"` // OpenTelemetry tracing; off by default.
}

// Log configures fedsaga's own log lines (zerolog).
type Log struct {
	Level string `koanf:"level"` // trace, debug, info, warn or error; FEDSAGA_LOG overrides it. Default "info".
	// Format is "auto" (human-readable on a terminal, JSON lines otherwise), "json" or "console". Default "auto".
	Format string `koanf:"format"`
}

// Temporal says where the Temporal frontend is, how to authenticate to it
// and which task queue sagas use. Keys not set here (file or FEDSAGA_*) are
// taken from the Temporal SDK's environment configuration (TEMPORAL_*
// variables and the TEMPORAL_CONFIG_FILE profile), then from the defaults.
type Temporal struct {
	Address   string `koanf:"address"`    // host:port of the frontend. Default "127.0.0.1:7233".
	Namespace string `koanf:"namespace"`  // Default "default".
	TaskQueue string `koanf:"task_queue"` // polled by workers, used by starters. Default "fedsaga-orders".
	// APIKey is sent as "authorization: Bearer <key>" (Temporal Cloud's API
	// keys); it turns TLS on unless tls.disabled. Never printed. Default "".
	APIKey Secret      `koanf:"api_key"`
	TLS    TemporalTLS `koanf:"tls"` // Default: on with an API key or any TLS file or server_name, else off.
	// ManageSearchAttributes lets the worker register fedsaga's missing
	// search attributes; false only checks them (for namespaces where the
	// worker may not, such as Temporal Cloud's). Default true.
	ManageSearchAttributes bool `koanf:"manage_search_attributes"`
	// GRPCCompression is the compression of the requests to Temporal:
	// "gzip" (the SDK's default) or "none". fedsaga's payloads are
	// encrypted (codec), and ciphertext does not compress: where the
	// bandwidth to Temporal is not scarce, "none" saves the worker and the
	// server the work (BENCHMARKS.md, "gRPC compression"). Default "gzip".
	GRPCCompression string `koanf:"grpc_compression"`
}

// Compressions of the requests to Temporal (temporal.grpc_compression).
const (
	CompressionGzip = "gzip"
	CompressionNone = "none"
)

// TemporalTLS is the TLS setup of the Temporal connection, as the Temporal
// SDK's environment configuration has it: on when api_key, ca_file,
// cert_file, key_file or server_name is set, or enabled is; off when
// disabled is, whatever else is set.
type TemporalTLS struct {
	Enabled  bool   `koanf:"enabled"`  // TLS with the system's CAs even when nothing else turns it on. Default false.
	Disabled bool   `koanf:"disabled"` // plaintext, even with an API key. Default false.
	CAFile   string `koanf:"ca_file"`  // a PEM file of the CAs that signed the server's certificate. Default "": the system's.
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS; set both or neither. Default "".
	CertFile   string `koanf:"cert_file"`
	KeyFile    string `koanf:"key_file"`
	ServerName string `koanf:"server_name"` // the name the server's certificate must hold. Default: the host of address.
}

// UseTLS reports whether the Temporal connection uses TLS.
func (t Temporal) UseTLS() bool {
	tls := t.TLS
	return !tls.Disabled && (tls.Enabled || t.APIKey != "" ||
		tls.CAFile != "" || tls.CertFile != "" || tls.KeyFile != "" || tls.ServerName != "")
}

// Database is one named PostgreSQL database. The names orders, inventory and
// payments are required.
type Database struct {
	URL string `koanf:"url"` // a postgres:// URL or keyword/value string, printed with its password redacted. Required.
	// PoolSize is the most connections of the saga's pool and of each federated-read
	// pool (one per read timeout, carried as statement_timeout). Default 10.
	PoolSize         int32         `koanf:"pool_size"`
	PoolTimeout      time.Duration `koanf:"pool_timeout"`      // longest wait for a connection (PoolExhaustedError). Default 5s.
	IdleMaxAge       time.Duration `koanf:"idle_max_age"`      // closes connections idle longer. Default 5m.
	StatementTimeout time.Duration `koanf:"statement_timeout"` // PostgreSQL's, on every connection. Default 5s.
	LogSlowQueries   time.Duration `koanf:"log_slow_queries"`  // logs slower queries; 0 turns it off. Default 200ms.
	// LogQueries logs every statement of this database at info level (SQL,
	// duration, rows; never parameter values); log.level debug
	// (FEDSAGA_LOG=debug) logs them for every database. Default false.
	LogQueries bool `koanf:"log_queries"`
}

// Federation configures the batched reads across the databases and the
// read API (fedsaga serve).
type Federation struct {
	BatchSize        int                      `koanf:"batch_size"`        // the most keys of one WHERE key = ANY($1) query. Default 1000.
	DefaultTimeout   time.Duration            `koanf:"default_timeout"`   // bounds each query: context deadline, statement_timeout. Default 5s.
	DatabaseTimeouts map[string]time.Duration `koanf:"database_timeouts"` // DefaultTimeout per database. Default none.
	// HTTPAddress is where `fedsaga serve` listens; ":8080" listens on every
	// interface (in a container, where loopback is the container's own).
	// Default "127.0.0.1:8080".
	HTTPAddress     string `koanf:"http_address"`
	DefaultPageSize int    `koanf:"default_page_size"` // of GET /v1/orders. Default 50.
	MaxPageSize     int    `koanf:"max_page_size"`     // the most ?limit= may ask, at most 10000 (MaxPageSizeLimit). Default 1000.
	// Relations are NAME = {from, to} over the entities order, item, product, reservation and
	// payment; a cycle is a CircularReferenceError. Default: items (order→item), product
	// (item→product), reservations (order→reservation), payment (order→payment).
	Relations map[string]Relation `koanf:"relations"`
	API       ReadAPI             `koanf:"api"` // authentication, TLS and limits of the read API ([federation.api]).
}

// Read API authentication modes (federation.api.auth).
const (
	// APIAuthRequired needs, of every request but /healthz, a bearer token
	// of federation.api.tokens and a client certificate signed by
	// federation.api.tls.client_ca_file, whichever of the two are set; with
	// neither set, `fedsaga serve` refuses to start.
	APIAuthRequired = "required"
	// APIAuthNone serves without authentication: only for an address that
	// nobody else reaches (loopback) or behind a proxy that authenticates.
	APIAuthNone = "none"
)

// ReadAPI secures and bounds the read API ([federation.api]).
type ReadAPI struct {
	Auth string `koanf:"auth"` // "required" or "none" (APIAuthRequired, APIAuthNone). Default "required".
	// Tokens are the bearer tokens accepted ("Authorization: Bearer
	// TOKEN"), at least 16 characters each; list several to rotate. Write
	// them as "${VAR}"; never printed. Default none.
	Tokens []Secret `koanf:"tokens"`
	TLS    APITLS   `koanf:"tls"` // Default: plain HTTP.
	// MetricsAddress is where `fedsaga serve` serves /metrics, on a
	// listener of its own without authentication; "" turns it off.
	// Default "127.0.0.1:9465".
	MetricsAddress string `koanf:"metrics_address"`
	MaxIDs         int    `koanf:"max_ids"`       // ids in one GET /v1/products?ids=, 1 to 10000. Default 100.
	MaxIDLength    int    `koanf:"max_id_length"` // bytes of one id (path, ids=, cursor), 1 to 1024. Default 128.
	// ReadTimeout bounds reading a whole request, body included;
	// IdleTimeout a keep-alive connection between requests; WriteTimeout
	// the time from the end of the request headers to the end of the
	// answer, so it must exceed the slowest federated read. Defaults 10s, 60s, 30s.
	ReadTimeout  time.Duration `koanf:"read_timeout"`
	IdleTimeout  time.Duration `koanf:"idle_timeout"`
	WriteTimeout time.Duration `koanf:"write_timeout"`
	GraphQL      GraphQL       `koanf:"graphql"` // limits and introspection of /graphql ([federation.api.graphql]).
}

// APITLS is the TLS setup of the read API's listener.
type APITLS struct {
	// CertFile and KeyFile are the server's certificate and key (PEM); set
	// both to serve HTTPS. Default "".
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ClientCAFile is a PEM file of the CAs whose client certificates are
	// accepted (mutual TLS); needs cert_file. Default "": no client certificates.
	ClientCAFile string `koanf:"client_ca_file"`
}

// Saga holds the limits of every saga run.
type Saga struct {
	Timeout             time.Duration `koanf:"timeout"`              // for all forward steps, then it compensates. Default 5m.
	CompensationTimeout time.Duration `koanf:"compensation_timeout"` // one compensation's retries, then it fails. Default 10m.
	// Mode runs the forward steps as "regular" or "local" activities (less
	// latency, fewer history events; compensations stay regular). Default "regular".
	Mode                 string `koanf:"mode"`
	ParallelCompensation bool   `koanf:"parallel_compensation"` // compensates at once, not in reverse order. Default false.
	// ContinueWithError runs the remaining compensations when one fails
	// (sequential mode) before the saga waits for an operator. Default false.
	ContinueWithError bool `koanf:"continue_with_error"`
	// NotifySteps makes every forward and compensation step that commits
	// send pg_notify on NotifyChannel in its own transaction, with a JSON
	// payload (saga_id, order_id, step, status), for [[observers]] to
	// forward. Default false.
	NotifySteps   bool   `koanf:"notify_steps"`
	NotifyChannel string `koanf:"notify_channel"` // the channel of notify_steps. Default "fedsaga_saga_steps".
}

// Saga modes.
const (
	ModeRegular = "regular"
	ModeLocal   = "local"
)

// NATS is the connection to NATS and the JetStream streams fedsaga manages.
type NATS struct {
	URL       string    `koanf:"url"`       // a server URL or a comma-separated list; printed redacted. Default "nats://127.0.0.1:4222".
	Auth      NATSAuth  `koanf:"auth"`      // Default none.
	TLS       NATSTLS   `koanf:"tls"`       // Default: as the URL scheme says.
	JetStream JetStream `koanf:"jetstream"` // the streams, keyed by name.
	// Partitions publishes a copy of every event addressed by partition
	// (see Partitions). Default off.
	Partitions Partitions `koanf:"partitions"`
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
	Type            string `koanf:"type"`             // none, token, user_password, nkey or credentials. Default "none".
	Token           Secret `koanf:"token"`            // for type token.
	User            string `koanf:"user"`             // for type user_password.
	Password        Secret `koanf:"password"`         // for type user_password.
	NKeySeedFile    string `koanf:"nkey_seed_file"`   // the file of the NKey seed, for type nkey.
	CredentialsFile string `koanf:"credentials_file"` // a .creds file (JWT and seed), for type credentials.
}

// NATSTLS is the TLS setup of the NATS connection.
type NATSTLS struct {
	CAFile string `koanf:"ca_file"` // a PEM file of the CAs to trust. Default "": the system's.
	// CertFile and KeyFile are the client certificate and key (PEM), for
	// servers that verify clients; set both or neither. Default "".
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
}

// JetStream is the set of streams the worker creates when they are missing.
type JetStream struct {
	// ManageStreams lets the worker create missing streams and update those
	// that differ; false makes them a start-up error (StreamNotFoundError). Default true.
	ManageStreams bool              `koanf:"manage_streams"`
	Streams       map[string]Stream `koanf:"streams"` // by name. Default ORDERS (the order events), subjects ["fedsaga.order.>"].
	// Consumers are the durable consumers of the order events, by name;
	// created or updated like the streams (manage_streams). Default none.
	Consumers map[string]Consumer `koanf:"consumers"`
}

// Stream is one JetStream stream.
type Stream struct {
	Subjects        []string      `koanf:"subjects"`         // Required, at least one.
	Retention       string        `koanf:"retention"`        // limits, interest or workqueue. Default "limits".
	Replicas        int           `koanf:"replicas"`         // 1 to 5. Default 1.
	MaxMsgs         int64         `koanf:"max_msgs"`         // messages kept; -1 is no limit. Default -1.
	MaxBytes        int64         `koanf:"max_bytes"`        // bytes kept; -1 is no limit. Default -1.
	DuplicateWindow time.Duration `koanf:"duplicate_window"` // how long message ids are remembered. Default 2m.
}

// Events configures the outbox relay that publishes the events the saga
// could not.
type Events struct {
	PublishTimeout time.Duration `koanf:"publish_timeout"` // the saga's publish retries, then the relay's turn. Default 2m.
	RelayDelay     time.Duration `koanf:"relay_delay"`     // younger events are left to the saga's own publish. Default 5s.
	RelayPoll      time.Duration `koanf:"relay_poll"`      // how often the relay polls, besides notifications. Default 5s.
	RelayBatch     int           `koanf:"relay_batch"`     // the most events the relay claims at once. Default 500.
}

// Observer forwards PostgreSQL notifications on a channel to a NATS
// subject ([[observers]]).
type Observer struct {
	Channel     string `koanf:"channel"`      // the notification channel. Required.
	NATSSubject string `koanf:"nats_subject"` // where the payloads go. Required.
	Database    string `koanf:"database"`     // where to LISTEN. Default "orders".
}

// Worker configures the worker process.
type Worker struct {
	StopTimeout time.Duration `koanf:"stop_timeout"` // wait for running activities before cancelling them. Default 30s.
	HTTPAddress string        `koanf:"http_address"` // /healthz, /readyz, /metrics; "" turns it off. Default ":9464".
	// Pprof serves net/http/pprof's profiles under /debug/pprof/ on
	// HTTPAddress, which needs to be set. Default false. Anyone who reaches
	// the address can read them: keep it on a private network.
	Pprof bool `koanf:"pprof"`
	// DeploymentName turns on Worker Deployments (versioning); BuildID is
	// this worker's version in it, and needs DeploymentName. Default ""
	// (unversioned); BuildID "" with a DeploymentName is the binary's
	// version (`fedsaga version`).
	DeploymentName string `koanf:"deployment_name"`
	BuildID        string `koanf:"build_id"`
	// MaxConcurrentActivities and MaxConcurrentLocalActivities are the
	// activity slots of one worker process. Each activity holds at most one
	// connection of a database's pool at a time, so slots beyond the pools
	// only queue for connections. Default 0: the smallest pool_size of the
	// orders, inventory and payments databases (SagaPoolSize).
	MaxConcurrentActivities      int `koanf:"max_concurrent_activities"`
	MaxConcurrentLocalActivities int `koanf:"max_concurrent_local_activities"`
	// MaxConcurrentWorkflowTasks are the workflow task slots; they hold no
	// connection, only CPU. At least 2. Default 1000 (the Temporal SDK's).
	MaxConcurrentWorkflowTasks int `koanf:"max_concurrent_workflow_tasks"`
	// WorkflowTaskPollers and ActivityTaskPollers cap the SDK's poller
	// autoscaling, which adds pollers while tasks wait and drops them when
	// polls come back empty. Default 100 each (the SDK's); at least 2 and 1.
	WorkflowTaskPollers int `koanf:"workflow_task_pollers"`
	ActivityTaskPollers int `koanf:"activity_task_pollers"`
}

// Relation is one federated relation; federation/relation decides which
// relations fedsaga can follow.
type Relation = relation.Relation

// CircularReferenceError is a cycle among the federated relations.
type CircularReferenceError = relation.CircularReferenceError

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
