package worker

import (
	"errors"
	"fmt"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime/pprof"
)

// ProfileCPU calls run, writing a pprof CPU profile of it to path; with an
// empty path it only calls run. `fedsaga worker --cpu-profile` and the
// benchmarks' floor worker profile their whole run with it. Read the file
// with `go tool pprof BINARY PATH`.
func ProfileCPU(path string, run func() error) error {
	if path == "" {
		return run()
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("cpu profile %s: %w", path, err)
	}
	err = run()
	pprof.StopCPUProfile()
	if cerr := f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("cpu profile %s: %w", path, cerr))
	}
	return err
}

// servePprof serves net/http/pprof's profiles under /debug/pprof/ on mux:
// worker.pprof = true puts them on the worker's HTTP address (beside
// /metrics), for a profile of a running worker without restarting it:
//
//	go tool pprof http://HOST:9464/debug/pprof/profile?seconds=20
//	go tool pprof http://HOST:9464/debug/pprof/heap
//	curl http://HOST:9464/debug/pprof/goroutine?debug=2
//
// A CPU profile must end within the listener's write timeout (30 s).
// --cpu-profile (ProfileCPU) profiles a whole run instead.
func servePprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", httppprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", httppprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
}
