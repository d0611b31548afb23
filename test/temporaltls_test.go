package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/tlstest"
	"github.com/fedsaga/fedsaga/worker"
)

// temporalProxy terminates mutual TLS in front of the dev server, which
// has no TLS of its own, and forwards the gRPC calls to it over h2c. It
// lets a call through only with the expected authorization header, and
// answers any other with gRPC's Unauthenticated, as Temporal Cloud does.
type temporalProxy struct {
	addr string
	want string

	mu   sync.Mutex
	seen map[string]int // calls by authorization header
}

func startTemporalProxy(t *testing.T, backend string, cert tls.Certificate, clientCAs *x509.CertPool, apiKey string) *temporalProxy {
	t.Helper()
	p := &temporalProxy{want: "Bearer " + apiKey, seen: map[string]int{}}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	forward := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(&url.URL{Scheme: "http", Host: backend}) },
		Transport:     h2c,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			p.mu.Lock()
			p.seen[auth]++
			p.mu.Unlock()
			if auth != p.want {
				w.Header().Set("Content-Type", "application/grpc")
				w.Header().Set("Grpc-Status", "16") // Unauthenticated
				w.Header().Set("Grpc-Message", "proxy: missing or wrong API key")
				w.WriteHeader(http.StatusOK)
				return
			}
			forward.ServeHTTP(w, r)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return p
}

// calls returns the calls the proxy saw, by authorization header.
func (p *temporalProxy) calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.seen {
		out[k] = v
	}
	return out
}

// TestTemporalMutualTLS: a worker wired as `fedsaga worker` and the CLI
// reach Temporal through mutual TLS with an API key and run an order saga;
// a wrong CA, a missing or expired client certificate and a wrong API key
// fail at start-up, naming the key to fix; the API key reaches the server
// as "authorization: Bearer <key>" and never shows in a log or in config
// print.
func TestTemporalMutualTLS(t *testing.T) {
	s := stack
	ca := tlstest.NewCA(t, "temporal CA")
	unrelated := tlstest.NewCA(t, "unrelated CA")
	client := ca.Client(t, "fedsaga-worker", time.Now().Add(time.Hour))
	expired := ca.Client(t, "fedsaga-expired", time.Now().Add(-time.Minute))
	apiKey := "tmprl-test-" + uniq(t, "key")
	proxy := startTemporalProxy(t, s.devServer.FrontendHostPort(), ca.Server(t, "temporal-proxy").TLS, ca.Pool(), apiKey)

	secured := func() *config.Config {
		cfg := *s.Config
		cfg.Temporal.Address = proxy.addr
		cfg.Temporal.TaskQueue = uniq(t, "queue")
		cfg.Temporal.APIKey = config.Secret(apiKey)
		cfg.Temporal.TLS = config.TemporalTLS{CAFile: ca.File(t), CertFile: client.CertFile, KeyFile: client.KeyFile}
		return &cfg
	}
	var logs syncBuffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()

	t.Run("start-up failures name the key", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			change func(*config.Config)
			key    string
		}{
			{"unrelated CA", func(c *config.Config) { c.Temporal.TLS.CAFile = unrelated.File(t) }, "temporal.tls.ca_file"},
			{"no client certificate", func(c *config.Config) { c.Temporal.TLS.CertFile, c.Temporal.TLS.KeyFile = "", "" }, "temporal.tls.cert_file"},
			{"expired client certificate", func(c *config.Config) {
				c.Temporal.TLS.CertFile, c.Temporal.TLS.KeyFile = expired.CertFile, expired.KeyFile
			}, "temporal.tls.cert_file"},
			{"wrong API key", func(c *config.Config) { c.Temporal.APIKey = "wrong-key-0123456789" }, "temporal.api_key"},
		} {
			cfg := secured()
			tc.change(cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			start := time.Now()
			w, err := worker.New(ctx, cfg, logger)
			cancel()
			if err == nil {
				w.Close()
				t.Errorf("%s: the worker started", tc.name)
				continue
			}
			var te *worker.TemporalError
			if !errors.As(err, &te) || te.Key != tc.key || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("%s: %v; want a TemporalError naming %s", tc.name, err, tc.key)
			}
			if strings.Contains(err.Error(), cfg.Temporal.APIKey.Value()) {
				t.Errorf("%s: the error shows the API key: %v", tc.name, err)
			}
			t.Logf("%s: failed after %s: %v", tc.name, time.Since(start).Round(time.Millisecond), err)
		}
	})

	t.Run("saga over mutual TLS", func(t *testing.T) {
		cfg := secured()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w, err := worker.New(ctx, cfg, logger)
		if err != nil {
			t.Fatalf("worker over mutual TLS: %v", err)
		}
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			defer w.Close()
			done <- w.Run(runCtx)
		}()
		defer func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		}()

		// The CLI places the order through the proxy too, with the SDK's
		// variables for TLS and the API key: only the worker above polls
		// this task queue.
		p := s.addProduct(t, 700, 5)
		customer := s.addCustomer(t, 10_000)
		orderID := uniq(t, "ord")
		r := fedsaga(t, []string{
			"FEDSAGA_TEMPORAL__ADDRESS=" + proxy.addr,
			"FEDSAGA_TEMPORAL__TASK_QUEUE=" + cfg.Temporal.TaskQueue,
			"FEDSAGA_LOG=debug",
			"TEMPORAL_API_KEY=" + apiKey,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH=" + ca.File(t),
			"TEMPORAL_TLS_CLIENT_CERT_PATH=" + client.CertFile,
			"TEMPORAL_TLS_CLIENT_KEY_PATH=" + client.KeyFile,
		}, "order", "place", "--customer", customer, "--item", p.SKU+"=2", "--order-id", orderID, "--wait")
		if r.code != 0 {
			t.Fatalf("order place over mutual TLS: exit %d: %s", r.code, r.stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["status"] != "confirmed" {
			t.Errorf("outcome %s (%v); want confirmed", r.stdout, err)
		}
		if got := s.stock(t, p); got != 3 {
			t.Errorf("stock %d after the saga, want 3", got)
		}
		if strings.Contains(r.stdout+r.stderr, apiKey) {
			t.Errorf("the CLI shows the API key:\n%s", r.stderr)
		}

		calls := proxy.calls()
		if calls["Bearer "+apiKey] == 0 {
			t.Errorf("the proxy saw no call with the API key: %v", calls)
		}
	})

	if strings.TrimSpace(logs.String()) == "" {
		t.Error("the worker logged nothing: the log check below would prove nothing")
	}
	if strings.Contains(logs.String(), apiKey) {
		t.Error("the worker's log shows the API key")
	}

	for _, env := range []string{"FEDSAGA_TEMPORAL__API_KEY=" + apiKey, "TEMPORAL_API_KEY=" + apiKey} {
		r := fedsaga(t, []string{env}, "config", "print")
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, apiKey) || !strings.Contains(r.stdout, "api_key = '[REDACTED]'") {
			t.Errorf("config print with %s: exit %d, want the key shown as [REDACTED] only:\n%s%s",
				strings.SplitN(env, "=", 2)[0], r.code, r.stdout, r.stderr)
		}
	}
}
