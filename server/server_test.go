package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/server"
)

// TestShutdownFinishesRequestsInFlight: a request that is running when the
// server shuts down gets its whole answer; a new connection is refused.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})
	s, err := server.Start("test server", "127.0.0.1:0", h, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, 5*time.Second) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr())
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-started
	cancel()
	if got := <-answer; got != "done" {
		t.Errorf("request in flight during shutdown got %q, want done", got)
	}
	if err := <-ran; err != nil {
		t.Errorf("Run = %v, want nil after a graceful shutdown", err)
	}
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Run returned", s.Addr())
	}
}

func TestStartNamesTheAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = server.Start("read API (federation.http_address)", ln.Addr().String(), http.NotFoundHandler(), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "federation.http_address") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Start on a busy address = %v, want an error naming the key and %s", err, ln.Addr())
	}
}

func TestMetricsHasRuntimeAndPools(t *testing.T) {
	c := config.DefaultDatabase()
	c.URL = "postgres://nobody@127.0.0.1:1/none" // pools connect lazily
	dbs, err := pg.Open(map[string]config.Database{"orders": c}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer dbs.Close()
	families, err := server.Metrics(dbs).Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds", "fedsaga_database_pool_max"} {
		if !have[name] {
			t.Errorf("metrics lack %s", name)
		}
	}
}
