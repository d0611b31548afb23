package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
)

func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return ns
}

// TestCheckNATSStreams: a missing stream is reported and fails the check
// only when the worker would not create it.
func TestCheckNATSStreams(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default().NATS
	cfg.URL = startNATS(t).ClientURL()

	detail, err := CheckNATS(ctx, cfg, zerolog.Nop())
	if err != nil || !strings.Contains(detail, "streams not created yet: "+config.OrdersStream) {
		t.Errorf("managed, missing stream: %q, %v; want it named, no error", detail, err)
	}

	cfg.JetStream.ManageStreams = false
	_, err = CheckNATS(ctx, cfg, zerolog.Nop())
	var nf *StreamNotFoundError
	if !errors.As(err, &nf) || nf.Stream != config.OrdersStream {
		t.Errorf("unmanaged, missing stream: %v; want a StreamNotFoundError for %s", err, config.OrdersStream)
	}

	cfg.JetStream.ManageStreams = true
	nc, err := ConnectNATS(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := EnsureStreams(ctx, js, cfg.JetStream, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	cfg.JetStream.ManageStreams = false
	if detail, err := CheckNATS(ctx, cfg, zerolog.Nop()); err != nil || !strings.Contains(detail, "streams present") {
		t.Errorf("streams created: %q, %v; want them present", detail, err)
	}

	cfg.URL = "nats://127.0.0.1:1"
	var ce *NATSConnectError
	if _, err := CheckNATS(ctx, cfg, zerolog.Nop()); !errors.As(err, &ce) {
		t.Errorf("NATS down: %v, want a NATSConnectError", err)
	}
}
