// Package natstest runs a NATS server with JetStream inside a test process,
// with fedsaga's orders stream as the worker creates it, so tests of the
// packages that publish and consume events need no NATS of the machine.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/worker"
)

// Start runs a NATS server with JetStream on a free port of 127.0.0.1,
// storing in a temporary directory; it stops when the test ends.
func Start(t testing.TB) *server.Server {
	t.Helper()
	return StartOptions(t, &server.Options{})
}

// StartOptions is Start with opts (authentication, TLS) as the base; Start
// sets the host, port, JetStream and store of opts.
func StartOptions(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.JetStream, opts.StoreDir, opts.NoLog, opts.NoSigs = "127.0.0.1", server.RANDOM_PORT, true, t.TempDir(), true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready after 10s")
	}
	return ns
}

// Connect connects to ns as the worker does (a publish-async timeout, so no
// future stays unresolved) and returns the JetStream context; the
// connection closes when the test ends.
func Connect(t testing.TB, ns *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// Orders starts a server, creates the orders stream of the default
// configuration on it (worker.EnsureStreams: one message per subject) and
// returns the JetStream context and the stream.
func Orders(t testing.TB) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	_, js := Connect(t, Start(t))
	ctx := context.Background()
	if err := worker.EnsureStreams(ctx, js, config.Default().NATS.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, config.OrdersStream)
	if err != nil {
		t.Fatal(err)
	}
	return js, stream
}
