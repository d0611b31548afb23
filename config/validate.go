package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fedsaga/fedsaga/federation/relation"
)

// Validate checks the whole configuration and reports every problem at
// once, each as an *Error naming its key and what is allowed, joined with
// errors.Join. It returns nil when the configuration is usable. Load calls
// it; call it again after changing a loaded Config.
func (c *Config) Validate() error {
	if c == nil {
		return &Error{Err: errors.New("no configuration")}
	}
	return joinErrors(validate(c))
}

func validate(c *Config) []*Error {
	var v validator
	v.oneOf("log.level", c.Log.Level, "trace", "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "json", "console")
	v.notEmpty("temporal.address", c.Temporal.Address)
	v.notEmpty("temporal.namespace", c.Temporal.Namespace)
	v.notEmpty("temporal.task_queue", c.Temporal.TaskQueue)
	v.oneOf("temporal.grpc_compression", c.Temporal.GRPCCompression, CompressionGzip, CompressionNone)
	v.together("temporal.tls.cert_file", c.Temporal.TLS.CertFile, "temporal.tls.key_file", c.Temporal.TLS.KeyFile)
	v.want(!c.Temporal.TLS.Enabled || !c.Temporal.TLS.Disabled, "temporal.tls.enabled",
		"set temporal.tls.enabled or temporal.tls.disabled, not both")
	for _, name := range RequiredDatabases {
		_, ok := c.Databases[name]
		v.want(ok, "databases."+name, "required database is missing; add [databases.%s] with a url", name)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Databases)) {
		v.database("databases."+name, name, c.Databases[name])
	}
	v.federation(c)
	v.positive("saga.timeout", c.Saga.Timeout)
	v.positive("saga.compensation_timeout", c.Saga.CompensationTimeout)
	v.natsURL("nats.url", c.NATS.URL)
	streams := c.NATS.JetStream.Streams
	_, ok := streams[OrdersStream]
	v.want(ok, "nats.jetstream.streams."+OrdersStream,
		"required stream is missing; add [nats.jetstream.streams.%s] with its subjects", OrdersStream)
	for _, name := range slices.Sorted(maps.Keys(streams)) {
		v.stream("nats.jetstream.streams."+name, name, streams[name])
	}
	v.consumers(c.NATS)
	v.natsAuth("nats.auth", c.NATS.Auth)
	v.together("nats.tls.cert_file", c.NATS.TLS.CertFile, "nats.tls.key_file", c.NATS.TLS.KeyFile)
	v.want(c.Events.RelayDelay >= 0, "events.relay_delay", "must not be negative, got %s", c.Events.RelayDelay)
	v.positive("events.relay_poll", c.Events.RelayPoll)
	v.positive("events.publish_timeout", c.Events.PublishTimeout)
	v.between("events.relay_batch", c.Events.RelayBatch, 1, 10000)
	for i, o := range c.Observers {
		key := fmt.Sprintf("observers[%d]", i)
		v.notEmpty(key+".channel", o.Channel)
		v.want(strings.TrimSpace(o.NATSSubject) != "" && !strings.ContainsAny(o.NATSSubject, " \t\r\n*>"),
			key+".nats_subject", "want a NATS subject without spaces or wildcards, got %q", o.NATSSubject)
		v.knownDatabase(key+".database", o.Database, c.Databases)
	}
	v.oneOf("saga.mode", c.Saga.Mode, ModeRegular, ModeLocal)
	v.notifySteps(c.Saga)
	v.want(c.Worker.BuildID == "" || c.Worker.DeploymentName != "", "worker.build_id",
		"needs worker.deployment_name; with a deployment name and no build id, the build id is the binary's version (fedsaga version)")
	v.hostPort("worker.http_address", c.Worker.HTTPAddress, `want host:port (e.g. ":9464") or "" to turn it off, got %q`)
	v.want(!c.Worker.Pprof || c.Worker.HTTPAddress != "", "worker.pprof",
		`serves /debug/pprof/ on worker.http_address, which is "" (off): set worker.http_address or turn pprof off`)
	v.want(c.Worker.StopTimeout >= 0, "worker.stop_timeout", "must not be negative, got %s", c.Worker.StopTimeout)
	v.slots("worker.max_concurrent_activities", c.Worker.MaxConcurrentActivities)
	v.slots("worker.max_concurrent_local_activities", c.Worker.MaxConcurrentLocalActivities)
	v.want(c.Worker.MaxConcurrentWorkflowTasks >= 2, "worker.max_concurrent_workflow_tasks", "must be at least 2, got %d", c.Worker.MaxConcurrentWorkflowTasks)
	v.want(c.Worker.WorkflowTaskPollers >= 2, "worker.workflow_task_pollers", "must be at least 2, got %d", c.Worker.WorkflowTaskPollers)
	v.want(c.Worker.ActivityTaskPollers >= 1, "worker.activity_task_pollers", "must be at least 1, got %d", c.Worker.ActivityTaskPollers)
	v.codec(c.Codec)
	v.telemetry(c.Telemetry)
	return v.errs
}

// validator collects the problems of a configuration.
type validator struct{ errs []*Error }

// want adds the problem with key unless ok.
func (v *validator) want(ok bool, key, format string, args ...any) {
	if !ok {
		v.errs = append(v.errs, keyErr(key, format, args...))
	}
}

func (v *validator) notEmpty(key, value string) {
	v.want(strings.TrimSpace(value) != "", key, "must not be empty")
}

func (v *validator) oneOf(key, value string, allowed ...string) {
	v.want(slices.Contains(allowed, value), key, "%q is not one of %s", value, strings.Join(allowed, ", "))
}

func (v *validator) positive(key string, d time.Duration) {
	v.want(d > 0, key, "must be more than 0s, got %s", d)
}

func (v *validator) between(key string, n, lo, hi int) {
	v.want(n >= lo && n <= hi, key, "must be from %d to %d, got %d", lo, hi, n)
}

// MaxStatementTimeout is the longest statement_timeout PostgreSQL takes:
// it holds milliseconds in a 32-bit integer.
const MaxStatementTimeout = math.MaxInt32 * time.Millisecond

// millis checks a duration that becomes PostgreSQL's statement_timeout: a
// whole number of milliseconds from 1ms to MaxStatementTimeout. Less than
// a millisecond would be 0, which PostgreSQL reads as no timeout at all.
func (v *validator) millis(key string, d time.Duration) {
	if d <= 0 {
		v.positive(key, d)
		return
	}
	v.want(d >= time.Millisecond && d <= MaxStatementTimeout && d%time.Millisecond == 0, key,
		"must be a whole number of milliseconds from 1ms to %dms, as PostgreSQL's statement_timeout (0 would be no timeout), got %s",
		MaxStatementTimeout.Milliseconds(), d)
}

// MaxPageSizeLimit is the largest federation.max_page_size: a page is
// read, joined and encoded in memory at once.
const MaxPageSizeLimit = 10000

// slots checks activity slots: 0 stands for the saga's smallest pool_size.
func (v *validator) slots(key string, n int) {
	v.want(n >= 0, key, "must be at least 1, or 0 for the smallest pool_size of the saga's databases, got %d", n)
}

// together checks two keys that are set both or neither.
func (v *validator) together(key1, value1, key2, value2 string) {
	v.want((value1 == "") == (value2 == ""), key1, "set %s and %s together (both or neither)", key1, key2)
}

// hostPort checks a listen address, "" for none.
func (v *validator) hostPort(key, addr, format string) {
	_, _, err := net.SplitHostPort(addr)
	v.want(addr == "" || err == nil, key, format, addr)
}

var databaseName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (v *validator) database(key, name string, db Database) {
	v.want(databaseName.MatchString(name), key,
		"invalid database name %q; use lower-case letters, digits and \"_\", starting with a letter", name)
	err := CheckDatabaseURL(db.URL)
	v.want(err == nil, key+".url", "%v", err)
	v.want(db.PoolSize >= 1, key+".pool_size", "must be at least 1, got %d", db.PoolSize)
	v.positive(key+".pool_timeout", db.PoolTimeout)
	v.positive(key+".idle_max_age", db.IdleMaxAge)
	v.millis(key+".statement_timeout", db.StatementTimeout)
	v.want(db.LogSlowQueries >= 0, key+".log_slow_queries", "must not be negative (0s turns it off), got %s", db.LogSlowQueries)
}

// CheckDatabaseURL checks a PostgreSQL connection string as pgx reads it:
// a postgres:// or postgresql:// URL, or a libpq keyword/value string. It
// refuses what pgx refuses, ports that pgx would refuse when it connects,
// and a raw "@" after a URL's host, which is a password's "@" or "/"
// left unencoded. Its errors never quote s, which holds a password.
func CheckDatabaseURL(s string) error {
	rest, isURL := cutPgURL(s)
	scheme, _, _ := strings.Cut(s, "://")
	switch scheme = strings.ToLower(strings.TrimSpace(scheme)); {
	case strings.TrimSpace(s) == "":
		return errors.New("required; set a postgres:// URL")
	case !isURL && hasScheme(s) && (scheme == "postgres" || scheme == "postgresql"):
		return errors.New(`must start with "postgres://" or "postgresql://" as written here, in lower case and without spaces before it`)
	case !isURL && hasScheme(s):
		return fmt.Errorf("scheme %q is not postgres:// or postgresql://", scheme)
	}
	const encode = `percent-encode "@", ":", "/", "?", "#", "&" and spaces in the user name and password (%40, %3A, %2F, %3F, %23, %26, %20)`
	if err := parsePostgres(s); err != nil && isURL {
		return fmt.Errorf("is not a valid postgres:// URL: %v; %s", err, encode)
	} else if err != nil {
		return fmt.Errorf("is neither a postgres:// URL nor a keyword=value connection string: %v", err)
	}
	if !isURL {
		var hosts, ports []string
		pairs, _, _ := keywordValuePairs(s)
		for _, p := range pairs {
			switch p.key {
			case "host":
				hosts = strings.Split(p.value, ",")
			case "port":
				ports = strings.Split(p.value, ",")
			}
		}
		return checkPorts(hosts, ports)
	}
	if strings.Contains(rest[urlUserInfo(rest)+1:], "@") {
		return errors.New(`holds an "@" after the host; ` + encode)
	}
	return checkPorts(urlHostsPorts(rest))
}

// natsURL checks a comma-separated list of NATS server URLs.
func (v *validator) natsURL(key, list string) {
	if strings.TrimSpace(list) == "" {
		v.want(false, key, "must not be empty; set a nats:// URL")
		return
	}
	entries := strings.Split(list, ",")
	for i, entry := range entries {
		what := "url"
		if len(entries) > 1 {
			what = fmt.Sprintf("entry %d", i+1)
		}
		u, err := url.Parse(strings.TrimSpace(entry))
		problem := ""
		switch {
		case strings.TrimSpace(entry) == "":
			problem = "is empty"
		case err != nil:
			problem = "is not a valid URL; percent-encode special characters in the user name and password"
		case !slices.Contains([]string{"nats", "tls", "ws", "wss"}, strings.ToLower(u.Scheme)):
			problem = "must start with nats://, tls://, ws:// or wss://"
		case u.Host == "":
			problem = "has no host"
		case strings.Contains(entry, "#"):
			problem = `holds a "#", which would end the URL there; percent-encode it in a user name, password or token (%23)`
		}
		v.want(problem == "", key, "%s %s", what, problem)
	}
}

func (v *validator) stream(key, name string, s Stream) {
	switch {
	case name != OrdersStream && strings.EqualFold(name, OrdersStream):
		v.want(false, key, "stream names are case-sensitive; the order events stream is %q", OrdersStream)
	case strings.ContainsAny(name, " \t\r\n.*>/\\"):
		v.want(false, key, "invalid stream name %q; it must not hold spaces, \".\", \"*\", \">\", \"/\" or \"\\\"", name)
	}
	v.want(len(s.Subjects) > 0, key+".subjects", "must list at least one subject")
	for i, subj := range s.Subjects {
		v.want(strings.TrimSpace(subj) != "" && !strings.ContainsAny(subj, " \t\r\n"),
			fmt.Sprintf("%s.subjects[%d]", key, i), "invalid subject %q; it must not be empty or hold spaces", subj)
	}
	v.between(key+".replicas", s.Replicas, 1, 5)
	v.want(s.MaxMsgs == -1 || s.MaxMsgs > 0, key+".max_msgs", "must be -1 (no limit) or more than 0, got %d", s.MaxMsgs)
	v.want(s.MaxBytes == -1 || s.MaxBytes > 0, key+".max_bytes", "must be -1 (no limit) or more than 0, got %d", s.MaxBytes)
	v.positive(key+".duplicate_window", s.DuplicateWindow)
	v.oneOf(key+".retention", s.Retention, "limits", "interest", "workqueue")
}

// knownDatabase checks that name is one of the configured databases.
func (v *validator) knownDatabase(key, name string, dbs map[string]Database) {
	_, ok := dbs[name]
	v.want(ok, key, "%q is not a configured database (configured: %s)", name, strings.Join(slices.Sorted(maps.Keys(dbs)), ", "))
}

// natsAuth checks that the fields the auth type needs are set; it never
// quotes a secret.
func (v *validator) natsAuth(key string, a NATSAuth) {
	v.oneOf(key+".type", a.Type, AuthNone, AuthToken, AuthUserPassword, AuthNKey, AuthCredentials)
	for _, f := range []struct{ typ, name, value string }{
		{AuthToken, "token", a.Token.Value()},
		{AuthUserPassword, "user", a.User},
		{AuthUserPassword, "password", a.Password.Value()},
		{AuthNKey, "nkey_seed_file", a.NKeySeedFile},
		{AuthCredentials, "credentials_file", a.CredentialsFile},
	} {
		v.want(a.Type != f.typ || f.value != "", key+"."+f.name, "required when %s.type is %s", key, f.typ)
	}
}

func (v *validator) federation(c *Config) {
	f := c.Federation
	v.between("federation.batch_size", f.BatchSize, 1, 100000)
	v.millis("federation.default_timeout", f.DefaultTimeout)
	for _, name := range slices.Sorted(maps.Keys(f.DatabaseTimeouts)) {
		key := "federation.database_timeouts." + name
		v.knownDatabase(key, name, c.Databases)
		v.millis(key, f.DatabaseTimeouts[name])
	}
	v.want(f.HTTPAddress != "", "federation.http_address", `must not be empty (it would listen on a random port); want host:port, e.g. ":8080"`)
	v.hostPort("federation.http_address", f.HTTPAddress, `want host:port (e.g. ":8080"), got %q`)
	v.want(f.MaxPageSize >= 1, "federation.max_page_size", "must be at least 1, got %d", f.MaxPageSize)
	v.want(f.MaxPageSize <= MaxPageSizeLimit, "federation.max_page_size", "must be at most %d, got %d", MaxPageSizeLimit, f.MaxPageSize)
	v.want(f.DefaultPageSize >= 1 && f.DefaultPageSize <= f.MaxPageSize, "federation.default_page_size",
		"must be from 1 to federation.max_page_size (%d), got %d", f.MaxPageSize, f.DefaultPageSize)
	for _, p := range relation.Check(f.Relations) {
		v.errs = append(v.errs, &Error{Key: p.Key, Err: p.Err})
	}
	v.readAPI("federation.api", f.API, f.HTTPAddress)
}

// minTokenLength is the shortest bearer token of the read API.
const minTokenLength = 16

// readAPI checks [federation.api]; it never quotes a token. Whether
// authentication is configured at all is checked when the read API
// starts, so that other commands run with the default configuration.
func (v *validator) readAPI(key string, a ReadAPI, httpAddress string) {
	v.oneOf(key+".auth", a.Auth, APIAuthRequired, APIAuthNone)
	v.want(a.Auth != APIAuthNone || len(a.Tokens) == 0 && a.TLS.ClientCAFile == "", key+".auth",
		`is "none", but tokens or tls.client_ca_file are set; remove them, or set auth = "required"`)
	for i, t := range a.Tokens {
		v.want(len(t.Value()) >= minTokenLength && !strings.ContainsFunc(t.Value(), func(r rune) bool { return r <= ' ' || r == 0x7f }),
			fmt.Sprintf("%s.tokens[%d]", key, i), "want at least %d characters without spaces or control characters (e.g. `openssl rand -hex 32`)", minTokenLength)
	}
	v.together(key+".tls.cert_file", a.TLS.CertFile, key+".tls.key_file", a.TLS.KeyFile)
	v.want(a.TLS.ClientCAFile == "" || a.TLS.CertFile != "", key+".tls.client_ca_file",
		"needs %s.tls.cert_file and key_file: client certificates travel over TLS", key)
	v.hostPort(key+".metrics_address", a.MetricsAddress, `want host:port (e.g. "127.0.0.1:9465") or "" to turn it off, got %q`)
	v.want(a.MetricsAddress == "" || a.MetricsAddress != httpAddress, key+".metrics_address",
		"must differ from federation.http_address (%q): /metrics has a listener of its own", httpAddress)
	v.between(key+".max_ids", a.MaxIDs, 1, 10000)
	v.between(key+".max_id_length", a.MaxIDLength, 1, 1024)
	v.positive(key+".read_timeout", a.ReadTimeout)
	v.positive(key+".idle_timeout", a.IdleTimeout)
	v.positive(key+".write_timeout", a.WriteTimeout)
	v.graphQL(key+".graphql", a.GraphQL)
}
