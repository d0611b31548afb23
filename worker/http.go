package worker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// probes serves /healthz (the process answers), /readyz (the worker polls
// its task queue) and /metrics (Prometheus).
//
// Metrics use github.com/prometheus/client_golang, the reference Prometheus
// client: the exposition format, Go and process collectors and custom
// collectors come with it, so nothing of that is hand-written.
type probes struct {
	ready  atomic.Bool
	reason atomic.Value // string: why not ready
	srv    *http.Server
	ln     net.Listener
}

func newProbes(addr string, reg *prometheus.Registry, logger zerolog.Logger) (*probes, error) {
	p := &probes{}
	p.reason.Store("starting")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errors.New("worker.http_address " + addr + ": " + err.Error())
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + p.reason.Load().(string) + "\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	p.ln = ln
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("health server stopped")
		}
	}()
	logger.Info().Str("address", ln.Addr().String()).Msg("serving /healthz, /readyz and /metrics")
	return p, nil
}

func (p *probes) setReady(ready bool, reason string) {
	if p == nil {
		return
	}
	p.reason.Store(reason)
	p.ready.Store(ready)
}

// Addr is where the probes listen.
func (p *probes) Addr() string {
	if p == nil {
		return ""
	}
	return p.ln.Addr().String()
}

func (p *probes) close() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}
