package worker

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/server"
)

// probes serves /healthz (the process answers), /readyz (the worker polls
// its task queue) and /metrics (Prometheus).
type probes struct {
	ready  atomic.Bool
	reason atomic.Value // string: why not ready
	srv    *server.Server
}

func newProbes(addr string, pprof bool, reg *prometheus.Registry, logger zerolog.Logger) (*probes, error) {
	p := &probes{}
	p.reason.Store("starting")
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
	if pprof {
		servePprof(mux)
	}
	srv, err := server.Start("worker probes (worker.http_address)", addr, mux, logger)
	if err != nil {
		return nil, err
	}
	p.srv = srv
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
	return p.srv.Addr()
}

func (p *probes) close() {
	if p == nil {
		return
	}
	_ = p.srv.Shutdown(2 * time.Second)
}
