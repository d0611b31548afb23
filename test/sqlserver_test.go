package test

// A production-like Temporal server for the benchmarks: the Temporal
// server binary (go.temporal.io/server/cmd/server, built from the Go module
// proxy and cached by scripts/lib.sh) on PostgreSQL persistence, as
// docker-compose runs it, with its schema set up by Temporal's own SQL tool
// (temporal-sql-tool) in two throwaway databases on the machine's
// PostgreSQL. FEDSAGA_TEST_SERVER=postgres selects it (scripts/bench.sh
// SERVER=postgres); the default is the in-memory dev server.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Environment of the PostgreSQL-backed server.
const (
	testServerEnv   = "FEDSAGA_TEST_SERVER"           // "postgres", or "" / "dev" for the dev server
	serverBinEnv    = "FEDSAGA_TEMPORAL_SERVER_BIN"   // the Temporal server binary
	sqlToolBinEnv   = "FEDSAGA_TEMPORAL_SQL_TOOL_BIN" // temporal-sql-tool
	serverPoolConns = 3                               // maxConns of each service's persistence pool: max_connections is shared
	serverShards    = 4                               // numHistoryShards, as docker-compose's auto-setup image
	dynamicConfig   = "../deploy/temporal/dynamicconfig.yaml"
)

// temporalServer is the server a stack runs: the dev server or sqlServer.
type temporalServer interface {
	FrontendHostPort() string
	Stop() error
}

// sqlServer is a Temporal server process on PostgreSQL persistence.
type sqlServer struct {
	cmd      *exec.Cmd
	done     chan struct{}
	frontend string
	metrics  string   // host:port of its /metrics
	dbs      []string // its databases, dropped by Stop
	admin    func(ctx context.Context, sql string) error
}

func (s *sqlServer) FrontendHostPort() string { return s.frontend }

// Stop stops the server (SIGTERM, then SIGKILL after 20 s) and drops its
// databases.
func (s *sqlServer) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, db := range s.dbs {
		errs = append(errs, s.admin(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"))
	}
	return errors.Join(errs...)
}

// binFromEnv is the path in the environment variable, which must exist.
func binFromEnv(env string) (string, error) {
	path := os.Getenv(env)
	if path == "" {
		return "", fmt.Errorf("%s=postgres needs %s (scripts/bench.sh SERVER=postgres sets it, building the binary once)", testServerEnv, env)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s: %w", env, err)
	}
	return path, nil
}

// startSQLServer sets up the schema of two fresh databases (prefix_temporal
// and prefix_visibility) with temporal-sql-tool, starts the server on free
// ports and registers the namespace "default".
func (s *Stack) startSQLServer(ctx context.Context, prefix string) (*sqlServer, error) {
	bin, err := binFromEnv(serverBinEnv)
	if err != nil {
		return nil, err
	}
	tool, err := binFromEnv(sqlToolBinEnv)
	if err != nil {
		return nil, err
	}
	srv := &sqlServer{done: make(chan struct{}), admin: s.admin}
	dbs := map[string]string{"temporal": prefix + "_temporal", "visibility": prefix + "_visibility"}
	for _, schema := range []string{"temporal", "visibility"} {
		db := dbs[schema]
		srv.dbs = append(srv.dbs, db)
		base := []string{"--plugin", "postgres12", "--ep", "127.0.0.1", "-p", "5432", "-u", "postgres", "--db", db}
		for _, step := range [][]string{
			{"create-database"},
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "-s", "postgresql/v12/" + schema},
		} {
			cmd := exec.CommandContext(ctx, tool, append(base, step...)...)
			cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
			if err := cmd.Run(); err != nil {
				return srv, fmt.Errorf("temporal-sql-tool %s on %s: %w (log: %s)", step[0], db, err, s.logFile.Name())
			}
		}
	}

	root := filepath.Join(s.Dir, "temporal-server")
	if err := os.MkdirAll(filepath.Join(root, "config"), 0o755); err != nil {
		return srv, err
	}
	dc, err := filepath.Abs(dynamicConfig)
	if err != nil {
		return srv, err
	}
	names := []string{"frontend", "frontendHTTP", "frontendMember", "history", "historyMember",
		"matching", "matchingMember", "worker", "workerMember", "metrics"}
	free, err := lowFreePorts(len(names))
	if err != nil {
		return srv, err
	}
	ports := map[string]int{}
	for i, name := range names {
		ports[name] = free[i]
	}
	srv.frontend = fmt.Sprintf("127.0.0.1:%d", ports["frontend"])
	srv.metrics = fmt.Sprintf("127.0.0.1:%d", ports["metrics"])
	store := func(db string) string {
		return fmt.Sprintf(`      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: "127.0.0.1:5432"
        connectProtocol: tcp
        user: postgres
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h`, db, serverPoolConns, serverPoolConns)
	}
	yaml := fmt.Sprintf(`log:
  stdout: true
  level: error
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: %d
  datastores:
    default:
%s
    visibility:
%s
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      timerType: histogram
      listenAddress: "127.0.0.1:%d"
services:
  frontend:
    rpc: {grpcPort: %d, membershipPort: %d, httpPort: %d, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: %q
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: %q
  pollInterval: 10s
`, serverShards, store(dbs["temporal"]), store(dbs["visibility"]), ports["metrics"],
		ports["frontend"], ports["frontendMember"], ports["frontendHTTP"],
		ports["history"], ports["historyMember"], ports["matching"], ports["matchingMember"],
		ports["worker"], ports["workerMember"], srv.frontend, dc)
	if err := os.WriteFile(filepath.Join(root, "config", "development.yaml"), []byte(yaml), 0o600); err != nil {
		return srv, err
	}
	srv.cmd = exec.Command(bin, "--root", root, "--config", "config", "--env", "development", "--allow-no-auth", "start")
	srv.cmd.Stdout, srv.cmd.Stderr = s.logFile, s.logFile
	stopWithParent(srv.cmd)
	if err := srv.cmd.Start(); err != nil {
		return srv, err
	}
	go func() {
		srv.cmd.Wait()
		close(srv.done)
	}()
	return srv, srv.registerNamespace(ctx, "default")
}

// registerNamespace registers the namespace once the frontend answers and
// waits until the server's services know it.
func (s *sqlServer) registerNamespace(ctx context.Context, namespace string) error {
	var nc client.NamespaceClient
	var err error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("temporal server exited: %s", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("temporal server at %s: %w (last error: %v)", s.frontend, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
		if nc == nil {
			if nc, err = client.NewNamespaceClient(client.Options{HostPort: s.frontend}); err != nil {
				nc = nil
				continue
			}
		}
		err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        namespace,
			WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		if err == nil || strings.Contains(strings.ToLower(err.Error()), "already") {
			break
		}
	}
	defer nc.Close()
	// The services learn a new namespace from their namespace registry,
	// which refreshes every few seconds: wait until a call needing it works.
	c, err := client.Dial(client.Options{HostPort: s.frontend, Namespace: namespace})
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		_, err := c.ListOpenWorkflow(ctx, &workflowservice.ListOpenWorkflowExecutionsRequest{Namespace: namespace, MaximumPageSize: 1})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s not ready: %w", namespace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// lowFreePorts returns n distinct free TCP ports below 32768: the server
// stores its membership ports in a smallint column, and the kernel's
// ephemeral ports (freePort) lie above. Each port stays bound until all n
// are chosen, so that no two of them are the same.
func lowFreePorts(n int) ([]int, error) {
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for try := 0; len(ports) < n && try < 1000; try++ {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			held = append(held, l)
			ports = append(ports, port)
		}
	}
	if len(ports) < n {
		return nil, fmt.Errorf("no %d free ports between 20000 and 32000", n)
	}
	return ports, nil
}
