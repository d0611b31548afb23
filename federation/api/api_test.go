package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// serve serves the read API over dbs with the default federation
// configuration after mutate changed it.
func serve(t *testing.T, dbs map[string]config.Database, mutate func(*config.Federation)) string {
	t.Helper()
	reg, err := pg.Open(dbs, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	cfg := config.Default().Federation
	if mutate != nil {
		mutate(&cfg)
	}
	reader, err := federation.NewReader(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(reg.Collector())
	srv := httptest.NewServer((&api.Server{Reader: reader, DefaultPageSize: 2, MaxPageSize: 100, Metrics: metrics, Logger: zerolog.Nop()}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body is not JSON: %v", url, err)
	}
	return resp.StatusCode, body
}

func errField(body map[string]any, field string) string {
	e, _ := body["error"].(map[string]any)
	v, _ := e[field].(string)
	return v
}

func TestReadAPI(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 5)
	base := serve(t, dbs, nil)

	code, body := get(t, base+"/v1/orders")
	if code != 200 || len(body["orders"].([]any)) != 2 || body["next"] == "" {
		t.Fatalf("GET /v1/orders: %d %v", code, body)
	}
	code, body = get(t, base+"/v1/orders?limit=3&after="+body["next"].(string))
	if orders := body["orders"].([]any); code != 200 || len(orders) != 3 || orders[0].(map[string]any)["id"] != d.IDs[2] || body["next"] != nil {
		t.Errorf("second and last page: %d %v", code, body)
	}
	code, body = get(t, base+"/v1/orders/"+d.IDs[1])
	items, _ := body["items"].([]any)
	if code != 200 || body["id"] != d.IDs[1] || len(items) != 2 || body["payment"] == nil {
		t.Errorf("GET /v1/orders/{id}: %d %v", code, body)
	}
	code, body = get(t, base+"/v1/products?ids="+d.Products[0]+",ghost,"+d.Products[0])
	if code != 200 || len(body["products"].([]any)) != 1 || fmt.Sprint(body["missing"]) != "[ghost]" {
		t.Errorf("GET /v1/products: %d %v", code, body)
	}

	for _, tc := range []struct {
		path, param string
	}{
		{"/v1/orders?limit=0", "limit"}, {"/v1/orders?limit=101", "limit"}, {"/v1/orders?limit=ten", "limit"},
		{"/v1/orders?after=garbage!", "after"}, {"/v1/products", "ids"}, {"/v1/products?ids=,,", "ids"},
	} {
		code, body := get(t, base+tc.path)
		if code != 400 || errField(body, "parameter") != tc.param || !strings.Contains(errField(body, "message"), tc.param) {
			t.Errorf("GET %s: %d %v, want 400 naming %s", tc.path, code, body, tc.param)
		}
	}
	if code, body := get(t, base+"/v1/orders/no-such-order"); code != 404 || !strings.Contains(errField(body, "message"), "no-such-order") {
		t.Errorf("unknown order: %d %v", code, body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `fedsaga_database_pool_active{database="inventory",pool="read-5s"}`) {
		t.Errorf("/metrics lacks the inventory read pool:\n%s", metrics)
	}

	// A database that cannot be reached: 503 naming it.
	down := map[string]config.Database{}
	for name, db := range dbs {
		down[name] = db
	}
	payments := down[config.PaymentsDB]
	payments.URL, payments.PoolTimeout = "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1", time.Second
	down[config.PaymentsDB] = payments
	code, body = get(t, serve(t, down, nil)+"/v1/orders/"+d.IDs[1])
	if code != 503 || errField(body, "database") != "payments" || !strings.Contains(errField(body, "message"), "DatabaseConnectionError") {
		t.Errorf("payments down: %d %v, want 503 naming payments", code, body)
	}

	// A database that times out: 504 naming it.
	slow := serve(t, dbs, func(f *config.Federation) {
		f.DatabaseTimeouts = map[string]time.Duration{"inventory": 200 * time.Millisecond}
	})
	lock, err := pg.Open(map[string]config.Database{"inventory": dbs["inventory"]}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	inv, _ := lock.DB("inventory")
	tx, err := inv.Pool().Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `LOCK TABLE tb_product IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	code, body = get(t, slow+"/v1/products?ids="+d.Products[0])
	if code != 504 || errField(body, "database") != "inventory" || !strings.Contains(errField(body, "message"), "FederationTimeoutError") {
		t.Errorf("slow inventory: %d %v, want 504 naming inventory", code, body)
	}
}
