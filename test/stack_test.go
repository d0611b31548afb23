// Package test holds fedsaga's integration tests. TestMain starts a real
// stack that the tests own: a Temporal dev server (the cached Temporal CLI,
// see scripts/lib.sh), three fresh databases on the machine's PostgreSQL, an
// in-process NATS server with JetStream, and a fedsaga worker wired exactly
// as `fedsaga worker` wires it. A missing dependency fails the run; nothing
// is skipped.
package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/logging"
	"github.com/fedsaga/fedsaga/migrations"
	"github.com/fedsaga/fedsaga/test/devserver"
	"github.com/fedsaga/fedsaga/worker"
)

// devServerConfig is the dev server's dynamic configuration, as make run
// starts it (scripts/lib.sh).
const devServerConfig = "../deploy/temporal/devserver.conf"

// stack is the running test stack, set up by TestMain.
var stack *Stack

// Stack is everything the integration tests talk to.
type Stack struct {
	Dir        string // temporary directory of this run
	ConfigPath string // fedsaga.toml of this stack, for the CLI
	Config     *config.Config
	Temporal   client.Client
	JetStream  jetstream.JetStream
	DBs        *pg.Registry

	adminURL  string
	dbNames   []string
	devServer temporalServer // the dev server, or sqlServer (FEDSAGA_TEST_SERVER=postgres)
	serverDBs []string       // the databases of a sqlServer
	nats      *server.Server
	natsOpts  *server.Options
	nc        *nats.Conn
	worker    *worker.Worker
	stopWork  context.CancelFunc
	workDone  chan error
	logFile   *os.File
	keepDir   bool // a failed run keeps Dir: its logs

	serverMetrics string // host:port of the Temporal server's /metrics

	warm *serverWarmth // warmServer: one per server, shared by the Stack's copies
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := startStack(ctx)
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration test stack did not start:", err)
		if s != nil && s.logFile != nil {
			s.keepDir = true // for the logs
			fmt.Fprintln(os.Stderr, "logs:", s.logFile.Name())
		}
		return 1
	}
	stack = s
	code := m.Run()
	if code != 0 {
		s.keepDir = true // for the logs
		fmt.Fprintln(os.Stderr, "worker and server logs:", s.logFile.Name())
	}
	return code
}

// temporalBinary is the Temporal CLI that serves the dev server.
func temporalBinary() (string, error) {
	path := os.Getenv("FEDSAGA_TEMPORAL_BIN")
	if path == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		path = filepath.Join(cache, "fedsaga", "bin", "temporal-v1.5.1")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("temporal CLI not found at %s: run `make tools` (or `make test`, which builds it): %w", path, err)
	}
	return path, nil
}

func startStack(ctx context.Context) (s *Stack, err error) {
	dir, err := os.MkdirTemp("", "fedsaga-test-")
	if err != nil {
		return nil, err
	}
	s = &Stack{Dir: dir, warm: &serverWarmth{}}
	if s.logFile, err = os.Create(filepath.Join(dir, "stack.log")); err != nil {
		return s, err
	}
	logger := zerolog.New(s.logFile).Level(zerolog.InfoLevel).With().Timestamp().Logger()

	prefix := fmt.Sprintf("fedsaga_t%d_%d", time.Now().Unix(), os.Getpid())
	s.adminURL = os.Getenv("FEDSAGA_TEST_PG")
	if s.adminURL == "" {
		s.adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if err := s.startTemporal(ctx, logger, prefix); err != nil {
		return s, err
	}

	// NATS: in-process, so the tests own it (and may stop it).
	s.natsOpts = &server.Options{
		Host: "127.0.0.1", Port: freePort(), JetStream: true,
		StoreDir: filepath.Join(dir, "nats"), NoLog: true, NoSigs: true,
	}
	if err := s.startNATS(); err != nil {
		return s, err
	}

	// PostgreSQL: three fresh databases on the machine's server.
	urls := map[string]string{}
	for _, name := range migrations.Databases {
		db := prefix + "_" + name
		if err := s.admin(ctx, "CREATE DATABASE "+db); err != nil {
			return s, fmt.Errorf("create database %s on %s (is PostgreSQL running?): %w", db, config.RedactURL(s.adminURL), err)
		}
		s.dbNames = append(s.dbNames, db)
		urls[name] = withDatabase(s.adminURL, db)
	}

	// The configuration goes through config.Load, as the binary's does.
	s.ConfigPath = filepath.Join(dir, "fedsaga.toml")
	toml := fmt.Sprintf(`[log]
level = "info"
format = "json"

[temporal]
address = %q
namespace = "default"
task_queue = "fedsaga-test"

[databases.orders]
url = %q
[databases.inventory]
url = %q
[databases.payments]
url = %q

[saga]
timeout = "2m"
compensation_timeout = "5s"

[nats]
url = %q

# Every event also on its partition (ORDERS_PARTITIONS), and a configured
# partitioned consumer whose lag the worker exports.
[nats.partitions]
count = 4
[nats.jetstream.consumers.stack-audit]
partitioned = true

[events]
publish_timeout = "3s"
relay_delay = "1s"
relay_poll = "500ms"

[[observers]]
channel = "fedsaga_test_changes"
nats_subject = "fedsaga.test.changes"

[worker]
stop_timeout = "5s"
http_address = "127.0.0.1:0"

# Payloads are encrypted with the test key checked in beside the recorded
# histories, which the replay tests decode with.
[codec]
enabled = true
active_key = %q
customer_id_key = { file = %q }
[codec.keys.%s]
file = %q
`, s.devServer.FrontendHostPort(), urls["orders"], urls["inventory"], urls["payments"], s.nats.ClientURL(),
		testKeyID, testdataFile("customer-id-test.key"), testKeyID, testdataFile("codec-test.key"))
	if err := os.WriteFile(s.ConfigPath, []byte(toml), 0o600); err != nil {
		return s, err
	}
	if s.Config, err = config.Load(s.ConfigPath); err != nil {
		return s, err
	}
	// Tests dial Temporal as every fedsaga process does.
	if s.Temporal, err = worker.DialTemporal(ctx, s.Config, logger.Level(zerolog.WarnLevel)); err != nil {
		return s, err
	}
	if s.DBs, err = pg.Open(s.Config.Databases, logger); err != nil {
		return s, err
	}
	for _, name := range migrations.Databases {
		db, _ := s.DBs.DB(name)
		if _, err := migrations.Up(ctx, name, db.Pool()); err != nil {
			return s, err
		}
	}

	if s.nc, err = nats.Connect(s.nats.ClientURL()); err != nil {
		return s, err
	}
	if s.JetStream, err = jetstream.New(s.nc); err != nil {
		return s, err
	}

	// The worker, wired as `fedsaga worker` wires it.
	w, err := worker.New(ctx, s.Config, logger)
	if err != nil {
		return s, fmt.Errorf("worker: %w", err)
	}
	s.worker = w
	wctx, stop := context.WithCancel(context.Background())
	s.stopWork, s.workDone = stop, make(chan error, 1)
	go func() {
		defer w.Close()
		s.workDone <- w.Run(wctx)
	}()
	// Tests start once the worker polls: /readyz answers 200.
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get("http://" + w.HTTPAddress() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return s, errors.New("worker not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

// startTemporal starts the stack's Temporal server: a dev server from the
// cached Temporal CLI, or with FEDSAGA_TEST_SERVER=postgres the Temporal
// server on PostgreSQL persistence (sqlserver_test.go).
func (s *Stack) startTemporal(ctx context.Context, logger zerolog.Logger, prefix string) error {
	switch kind := os.Getenv(testServerEnv); kind {
	case "postgres":
		srv, err := s.startSQLServer(ctx, prefix)
		if srv != nil {
			s.devServer, s.serverDBs, s.serverMetrics = srv, srv.dbs, srv.metrics
		}
		return err
	case "", "dev":
	default:
		return fmt.Errorf("%s=%q: want dev or postgres", testServerEnv, kind)
	}
	// Temporal: a real dev server from the cached Temporal CLI.
	bin, err := temporalBinary()
	if err != nil {
		return err
	}
	settings, err := devserver.ReadConfig(devServerConfig)
	if err != nil {
		return fmt.Errorf("temporal dev server: %w", err)
	}
	dynamicConfig := devserver.Args(settings)
	// The dev server picks the ports of its internal services itself, and
	// another process may take one before it binds it ("bind: address
	// already in use", then a crash); a new start picks new ports.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		dev, metrics, err := startDevServer(ctx, bin, dynamicConfig, logger, s.logFile)
		if err == nil {
			s.devServer, s.serverMetrics = dev, metrics
			return nil
		}
		if attempt == attempts {
			return fmt.Errorf("temporal dev server, %d attempts: %w", attempts, err)
		}
		logger.Warn().Err(err).Int("attempt", attempt).Msg("temporal dev server did not start; starting another")
	}
}

// startDevServer starts a Temporal dev server from the cached CLI bin,
// with the dynamic-config flags dynamicConfig, its output to log and its
// client's to logger; it returns the server and the address of its
// metrics.
func startDevServer(ctx context.Context, bin string, dynamicConfig []string, logger zerolog.Logger, log io.Writer) (*testsuite.DevServer, string, error) {
	metricsPort := freePort()
	dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin,
		ClientOptions: &client.Options{
			Namespace: "default",
			Logger:    logging.Temporal(logger.Level(zerolog.WarnLevel)),
		},
		LogLevel:  "error",
		ExtraArgs: append(slices.Clip(dynamicConfig), "--metrics-port", strconv.Itoa(metricsPort)),
		Stdout:    log,
		Stderr:    log,
	})
	if err != nil {
		return nil, "", fmt.Errorf("temporal dev server: %w", err)
	}
	return dev, fmt.Sprintf("127.0.0.1:%d", metricsPort), nil
}

// Close stops everything the stack started and drops its databases.
func (s *Stack) Close() {
	if s.stopWork != nil {
		s.stopWork()
		<-s.workDone
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.Temporal != nil {
		s.Temporal.Close()
	}
	if s.DBs != nil {
		s.DBs.Close()
	}
	if s.nats != nil {
		s.nats.Shutdown()
		s.nats.WaitForShutdown()
	}
	if s.devServer != nil {
		_ = s.devServer.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, db := range s.dbNames {
		if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "drop test database:", err)
		}
	}
	if s.logFile != nil {
		s.logFile.Close()
	}
	if !s.keepDir {
		_ = os.RemoveAll(s.Dir)
	}
}

func (s *Stack) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func withDatabase(url, db string) string {
	base, query, _ := strings.Cut(url, "?")
	base = base[:strings.LastIndex(base, "/")+1] + db
	if query != "" {
		return base + "?" + query
	}
	return base
}

// pool returns the pool of a logical database (orders, inventory, payments).
func (s *Stack) pool(t testing.TB, name string) *pgxpool.Pool {
	t.Helper()
	db, err := s.DBs.DB(name)
	if err != nil {
		t.Fatal(err)
	}
	return db.Pool()
}

var seq atomic.Int64

// uniq makes an id unique to this run and test: fixtures never collide.
func uniq(t testing.TB, kind string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	return fmt.Sprintf("%s-%s-%d", kind, strings.Trim(name, "-"), seq.Add(1))
}

// startNATS starts the stack's NATS server (again) on its port and store.
func (s *Stack) startNATS() error {
	ns, err := server.NewServer(s.natsOpts)
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("nats server not ready after 10s")
	}
	s.nats = ns
	return nil
}

// stopNATS stops the stack's NATS server: a NATS outage.
func (s *Stack) stopNATS() {
	s.nats.Shutdown()
	s.nats.WaitForShutdown()
}

// restartNATS stops NATS for the duration of down, then starts it again.
func (s *Stack) restartNATS(t testing.TB, down func()) {
	t.Helper()
	s.stopNATS()
	defer func() {
		if err := s.startNATS(); err != nil {
			t.Fatal(err)
		}
	}()
	down()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
