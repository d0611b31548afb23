// Package api is fedsaga's read API: federated orders and products over
// HTTP/JSON, served from a federation.Reader, with the typed errors of
// packages federation and pg mapped to HTTP statuses that name the
// database.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/pg"
)

// Server serves the read API:
//
//	GET /v1/orders?limit=N&after=CURSOR   a page of federated orders, oldest first
//	GET /v1/orders/{id}                   one federated order
//	GET /v1/products?ids=ID,ID,...        products by id, with the ids not found
//	GET /metrics                          Prometheus metrics
//	GET /healthz                          the process answers
//
// Errors are JSON: {"error": {"message": ..., "parameter" | "database": ...}}
// with 400 for a bad parameter, 404 for an unknown id, 503 when a database
// cannot be reached or its pool is exhausted, 504 when a database timed out.
type Server struct {
	Reader          *federation.Reader
	DefaultPageSize int
	MaxPageSize     int
	Metrics         *prometheus.Registry
	Logger          zerolog.Logger
}

// Handler routes the API.
func (a *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/orders", a.handle(a.orders))
	mux.HandleFunc("GET /v1/orders/{id}", a.handle(func(r *http.Request) (any, error) {
		return a.Reader.Order(r.Context(), r.PathValue("id"))
	}))
	mux.HandleFunc("GET /v1/products", a.handle(a.products))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	if a.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{Registry: a.Metrics}))
	}
	return mux
}

// OrderPage is the body of GET /v1/orders.
type OrderPage struct {
	Orders []federation.Order `json:"orders"`
	Next   string             `json:"next,omitempty"` // the after= of the next page; empty on the last page
}

// ProductList is the body of GET /v1/products.
type ProductList struct {
	Products []federation.Product `json:"products"`
	Missing  []string             `json:"missing"`
}

func (a *Server) orders(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit := a.DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > a.MaxPageSize {
			return nil, &paramError{"limit", "want an integer from 1 to " + strconv.Itoa(a.MaxPageSize) + ", got " + strconv.Quote(s)}
		}
		limit = n
	}
	var after *federation.Cursor
	if s := q.Get("after"); s != "" {
		c, err := federation.ParseCursor(s)
		if err != nil {
			return nil, &paramError{"after", err.Error()}
		}
		after = &c
	}
	orders, next, err := a.Reader.Page(r.Context(), after, limit)
	page := OrderPage{Orders: orders} // never nil: [] when there is none
	if next != nil {
		page.Next = next.String()
	}
	return page, err
}

func (a *Server) products(r *http.Request) (any, error) {
	raw := r.URL.Query().Get("ids")
	var ids []string
	for _, id := range strings.Split(raw, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || len(ids) > a.MaxPageSize {
		return nil, &paramError{"ids", "want 1 to " + strconv.Itoa(a.MaxPageSize) + " comma-separated product ids, got " + strconv.Quote(raw)}
	}
	rows, err := a.Reader.Products(r.Context(), ids)
	out := ProductList{Products: []federation.Product{}, Missing: []string{}}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.Key] {
			continue
		}
		seen[row.Key] = true
		if row.Found {
			out.Products = append(out.Products, row.Values[0])
		} else {
			out.Missing = append(out.Missing, row.Key)
		}
	}
	return out, err
}

// paramError is a bad query parameter.
type paramError struct{ param, msg string }

func (e *paramError) Error() string { return e.param + ": " + e.msg }

type apiError struct {
	Message   string `json:"message"`
	Parameter string `json:"parameter,omitempty"`
	Database  string `json:"database,omitempty"`
}

// handle serves fn's value as JSON, or its error with the status the
// error's type calls for.
func (a *Server) handle(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			body := apiError{Message: "internal error"}
			if e, ok := errors.AsType[*paramError](err); ok {
				status, body = http.StatusBadRequest, apiError{Message: e.Error(), Parameter: e.param}
			} else if errors.Is(err, federation.ErrNotFound) {
				status, body = http.StatusNotFound, apiError{Message: err.Error()}
			} else if e, ok := errors.AsType[*federation.FederationTimeoutError](err); ok {
				status, body = http.StatusGatewayTimeout, apiError{Message: e.Error(), Database: e.Database}
			} else if e, ok := errors.AsType[*pg.PoolExhaustedError](err); ok {
				status, body = http.StatusServiceUnavailable, apiError{Message: e.Error(), Database: e.Database}
			} else if e, ok := errors.AsType[*pg.DatabaseConnectionError](err); ok {
				status, body = http.StatusServiceUnavailable, apiError{Message: e.Error(), Database: e.Database}
			}
			if status >= 500 {
				a.Logger.Error().Err(err).Str("path", r.URL.Path).Int("status", status).Msg("read failed")
			}
			v = map[string]apiError{"error": body}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
}
