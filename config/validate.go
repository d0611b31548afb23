package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fedsaga/fedsaga/federation/relation"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	logLevels   = []string{"trace", "debug", "info", "warn", "error"}
	logFormats  = []string{"auto", "json", "console"}
	natsSchemes = []string{"nats", "tls", "ws", "wss"}

	// databaseName is the form of a database name.
	databaseName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// maxReplicas is the most replicas a JetStream stream may have.
const maxReplicas = 5

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

	v.oneOf("log.level", c.Log.Level, logLevels)
	v.oneOf("log.format", c.Log.Format, logFormats)

	v.notEmpty("temporal.address", c.Temporal.Address)
	v.notEmpty("temporal.namespace", c.Temporal.Namespace)
	v.notEmpty("temporal.task_queue", c.Temporal.TaskQueue)

	for _, name := range RequiredDatabases {
		if _, ok := c.Databases[name]; !ok {
			key := "databases." + name
			v.add(key, "required database is missing; add [%s] with a url", key)
		}
	}
	for _, name := range sortedKeys(c.Databases) {
		v.database("databases."+name, name, c.Databases[name])
	}

	v.federation(c)

	v.positive("saga.timeout", c.Saga.Timeout)
	v.positive("saga.compensation_timeout", c.Saga.CompensationTimeout)

	v.natsURL("nats.url", c.NATS.URL)
	streams := c.NATS.JetStream.Streams
	if _, ok := streams[OrdersStream]; !ok {
		key := "nats.jetstream.streams." + OrdersStream
		v.add(key, "required stream is missing; add [%s] with its subjects", key)
	}
	for _, name := range sortedKeys(streams) {
		v.stream("nats.jetstream.streams."+name, name, streams[name])
	}

	v.natsAuth("nats.auth", c.NATS.Auth)
	if (c.NATS.TLS.CertFile == "") != (c.NATS.TLS.KeyFile == "") {
		v.add("nats.tls.cert_file", "set nats.tls.cert_file and nats.tls.key_file together (both or neither)")
	}
	if c.Events.RelayDelay < 0 {
		v.add("events.relay_delay", "must not be negative, got %s", c.Events.RelayDelay)
	}
	v.positive("events.relay_poll", c.Events.RelayPoll)
	v.positive("events.publish_timeout", c.Events.PublishTimeout)
	if c.Events.RelayBatch < 1 || c.Events.RelayBatch > 10000 {
		v.add("events.relay_batch", "must be from 1 to 10000, got %d", c.Events.RelayBatch)
	}
	for i, o := range c.Observers {
		key := fmt.Sprintf("observers[%d]", i)
		v.notEmpty(key+".channel", o.Channel)
		if strings.TrimSpace(o.NATSSubject) == "" || strings.ContainsAny(o.NATSSubject, " \t\r\n*>") {
			v.add(key+".nats_subject", "want a NATS subject without spaces or wildcards, got %q", o.NATSSubject)
		}
		v.knownDatabase(key+".database", o.Database, c.Databases)
	}

	v.oneOf("saga.mode", c.Saga.Mode, []string{ModeRegular, ModeLocal})
	if (c.Worker.DeploymentName == "") != (c.Worker.BuildID == "") {
		v.add("worker.deployment_name", "set worker.deployment_name and worker.build_id together (both or neither)")
	}
	if a := c.Worker.HTTPAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.add("worker.http_address", "want host:port (e.g. \":9464\") or \"\" to turn it off, got %q", a)
		}
	}
	if c.Worker.StopTimeout < 0 {
		v.add("worker.stop_timeout", "must not be negative, got %s", c.Worker.StopTimeout)
	}
	return v.errs
}

// validator collects the problems of a configuration.
type validator struct{ errs []*Error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, keyErr(key, format, args...))
}

func (v *validator) notEmpty(key, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(key, "must not be empty")
	}
}

func (v *validator) oneOf(key, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.add(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

// positive checks a duration that must be more than zero.
func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be more than 0s, got %s", d)
	}
}

func (v *validator) database(key, name string, db Database) {
	if !databaseName.MatchString(name) {
		v.add(key, "invalid database name %q; use lower-case letters, digits and \"_\", starting with a letter", name)
	}
	if err := checkPostgresURL(db.URL); err != nil {
		v.add(key+".url", "%v", err)
	}
	if db.PoolSize < 1 {
		v.add(key+".pool_size", "must be at least 1, got %d", db.PoolSize)
	}
	v.positive(key+".pool_timeout", db.PoolTimeout)
	v.positive(key+".idle_max_age", db.IdleMaxAge)
	v.positive(key+".statement_timeout", db.StatementTimeout)
	if db.LogSlowQueries < 0 {
		v.add(key+".log_slow_queries", "must not be negative (0s turns it off), got %s", db.LogSlowQueries)
	}
}

// checkPostgresURL checks a PostgreSQL connection string: a postgres:// or
// postgresql:// URL, or a libpq keyword/value string. Its errors never
// quote s, which holds a password.
func checkPostgresURL(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("required; set a postgres:// URL")
	case hasScheme(s):
		scheme, _, _ := strings.Cut(s, "://")
		if scheme = strings.ToLower(strings.TrimSpace(scheme)); scheme != "postgres" && scheme != "postgresql" {
			return fmt.Errorf("scheme %q is not postgres:// or postgresql://", scheme)
		}
		if _, err := url.Parse(s); err != nil {
			return errors.New(`is not a valid URL; percent-encode characters such as "@", ":", "/", "?" and "#" in the user name and password`)
		}
	default:
		// pgx reads the string as the pools will. Its error would quote
		// the string, which holds a password.
		if _, err := pgconn.ParseConfig(s); err != nil {
			var pe *pgconn.ParseConfigError
			if errors.As(err, &pe) {
				pe.ConnString = ""
			}
			return fmt.Errorf("is neither a postgres:// URL nor a keyword=value connection string: %s",
				strings.TrimPrefix(err.Error(), "cannot parse ``: "))
		}
	}
	return nil
}

// natsURL checks a comma-separated list of NATS server URLs.
func (v *validator) natsURL(key, list string) {
	if strings.TrimSpace(list) == "" {
		v.add(key, "must not be empty; set a nats:// URL")
		return
	}
	entries := strings.Split(list, ",")
	for i, entry := range entries {
		what := "url"
		if len(entries) > 1 {
			what = fmt.Sprintf("entry %d", i+1)
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			v.add(key, "%s is empty", what)
			continue
		}
		u, err := url.Parse(entry)
		switch {
		case err != nil:
			v.add(key, "%s is not a valid URL; percent-encode special characters in the user name and password", what)
		case !slices.Contains(natsSchemes, strings.ToLower(u.Scheme)):
			v.add(key, "%s must start with nats://, tls://, ws:// or wss://", what)
		case u.Host == "":
			v.add(key, "%s has no host", what)
		}
	}
}

func (v *validator) stream(key, name string, s Stream) {
	switch {
	case name != OrdersStream && strings.EqualFold(name, OrdersStream):
		v.add(key, "stream names are case-sensitive; the order events stream is %q", OrdersStream)
	case strings.ContainsAny(name, " \t\r\n.*>/\\"):
		v.add(key, "invalid stream name %q; it must not hold spaces, \".\", \"*\", \">\", \"/\" or \"\\\"", name)
	}
	if len(s.Subjects) == 0 {
		v.add(key+".subjects", "must list at least one subject")
	}
	for i, subj := range s.Subjects {
		if strings.TrimSpace(subj) == "" || strings.ContainsAny(subj, " \t\r\n") {
			v.add(fmt.Sprintf("%s.subjects[%d]", key, i), "invalid subject %q; it must not be empty or hold spaces", subj)
		}
	}
	if s.Replicas < 1 || s.Replicas > maxReplicas {
		v.add(key+".replicas", "must be from 1 to %d, got %d", maxReplicas, s.Replicas)
	}
	if s.MaxMsgs < -1 || s.MaxMsgs == 0 {
		v.add(key+".max_msgs", "must be -1 (no limit) or more than 0, got %d", s.MaxMsgs)
	}
	if s.MaxBytes < -1 || s.MaxBytes == 0 {
		v.add(key+".max_bytes", "must be -1 (no limit) or more than 0, got %d", s.MaxBytes)
	}
	v.positive(key+".duplicate_window", s.DuplicateWindow)
	v.oneOf(key+".retention", s.Retention, []string{"limits", "interest", "workqueue"})
}

// knownDatabase checks that name is one of the configured databases.
func (v *validator) knownDatabase(key, name string, dbs map[string]Database) {
	if _, ok := dbs[name]; !ok {
		v.add(key, "%q is not a configured database (configured: %s)", name, strings.Join(sortedKeys(dbs), ", "))
	}
}

// natsAuth checks that the fields the auth type needs are set; it never
// quotes a secret.
func (v *validator) natsAuth(key string, a NATSAuth) {
	v.oneOf(key+".type", a.Type, []string{AuthNone, AuthToken, AuthUserPassword, AuthNKey, AuthCredentials})
	switch a.Type {
	case AuthToken:
		if a.Token == "" {
			v.add(key+".token", "required when %s.type is token", key)
		}
	case AuthUserPassword:
		if a.User == "" {
			v.add(key+".user", "required when %s.type is user_password", key)
		}
		if a.Password == "" {
			v.add(key+".password", "required when %s.type is user_password", key)
		}
	case AuthNKey:
		if a.NKeySeedFile == "" {
			v.add(key+".nkey_seed_file", "required when %s.type is nkey", key)
		}
	case AuthCredentials:
		if a.CredentialsFile == "" {
			v.add(key+".credentials_file", "required when %s.type is credentials", key)
		}
	}
}

func (v *validator) federation(c *Config) {
	f := c.Federation
	if f.BatchSize < 1 || f.BatchSize > 100000 {
		v.add("federation.batch_size", "must be from 1 to 100000, got %d", f.BatchSize)
	}
	v.positive("federation.default_timeout", f.DefaultTimeout)
	for _, name := range sortedKeys(f.DatabaseTimeouts) {
		key := "federation.database_timeouts." + name
		v.knownDatabase(key, name, c.Databases)
		v.positive(key, f.DatabaseTimeouts[name])
	}
	if a := f.HTTPAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.add("federation.http_address", "want host:port (e.g. \":8080\"), got %q", a)
		}
	}
	if f.MaxPageSize < 1 {
		v.add("federation.max_page_size", "must be at least 1, got %d", f.MaxPageSize)
	}
	if f.DefaultPageSize < 1 || f.DefaultPageSize > f.MaxPageSize {
		v.add("federation.default_page_size", "must be from 1 to federation.max_page_size (%d), got %d", f.MaxPageSize, f.DefaultPageSize)
	}
	for _, p := range relation.Check(f.Relations) {
		key := "federation.relations"
		if p.Key != "" {
			key += "." + p.Key
		}
		v.errs = append(v.errs, &Error{Key: key, Err: p.Err})
	}
}
