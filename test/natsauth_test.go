package test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/internal/tlstest"
	"github.com/fedsaga/fedsaga/worker"
)

func TestNATSNKeyAuth(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	ns := natstest.StartOptions(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	seedFile := filepath.Join(t.TempDir(), "fedsaga.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	nc, err := worker.ConnectNATS(config.NATS{URL: ns.ClientURL(), Auth: config.NATSAuth{Type: config.AuthNKey, NKeySeedFile: seedFile}}, zerolog.Nop())
	if err != nil {
		t.Fatalf("nkey auth: %v", err)
	}
	nc.Close()

	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	os.WriteFile(seedFile, otherSeed, 0o600)
	_, err = worker.ConnectNATS(config.NATS{URL: ns.ClientURL(), Auth: config.NATSAuth{Type: config.AuthNKey, NKeySeedFile: seedFile}}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "auth nkey") || strings.Contains(err.Error(), string(otherSeed)) {
		t.Errorf("unknown nkey: %v", err)
	}
}

func TestNATSTLSWithClientCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "fedsaga test CA")
	srv, client := ca.Server(t, "server"), ca.Client(t, "client", time.Now().Add(time.Hour))
	serverTLS, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: srv.CertFile, KeyFile: srv.KeyFile, CaFile: ca.File(t), Verify: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	serverTLS.ClientAuth = tls.RequireAndVerifyClientCert
	ns := natstest.StartOptions(t, &server.Options{TLSConfig: serverTLS, TLSVerify: true, TLSTimeout: 2})
	url := strings.Replace(ns.ClientURL(), "nats://", "tls://", 1)

	cfg := config.NATS{URL: url, Auth: config.NATSAuth{Type: config.AuthNone}, TLS: config.NATSTLS{
		CAFile: ca.File(t), CertFile: client.CertFile, KeyFile: client.KeyFile,
	}}
	nc, err := worker.ConnectNATS(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("TLS with a client certificate: %v", err)
	}
	nc.Close()

	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	if _, err := worker.ConnectNATS(cfg, zerolog.Nop()); err == nil {
		t.Error("connected without the client certificate the server requires")
	}
}
