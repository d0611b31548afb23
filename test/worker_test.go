package test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fedsaga/fedsaga/config"
)

func TestWorkerProbesAndMetrics(t *testing.T) {
	base := "http://" + stack.worker.HTTPAddress()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("/readyz of a running worker: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, db := range config.RequiredDatabases {
		for _, m := range []string{"fedsaga_database_pool_active", "fedsaga_database_pool_idle", "fedsaga_database_pool_acquire_total"} {
			if !strings.Contains(body, m+`{database="`+db+`",pool="main"}`) {
				t.Errorf("/metrics lacks %s for %s", m, db)
			}
		}
	}
	for _, m := range []string{"fedsaga_outbox_backlog ", "fedsaga_outbox_published_total ", "fedsaga_outbox_publish_failures_total "} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks the relay's %s", m)
		}
	}
	if !strings.Contains(body, "go_goroutines") {
		t.Error("/metrics lacks the Go runtime metrics")
	}
}
