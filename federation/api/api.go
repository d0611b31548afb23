// Package api is fedsaga's read API: federated orders and products over
// HTTP/JSON, served from a federation.Reader, with the typed errors of
// packages federation and pg mapped to HTTP statuses and stable codes that
// name the database but nothing of its address. Start serves it as
// `fedsaga serve` does: authenticated, bounded, and /metrics on a listener
// of its own.
package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
)

// Server serves the read API:
//
//	GET /v1/orders?limit=N&after=CURSOR   a page of federated orders, oldest first
//	GET /v1/orders/{id}                   one federated order
//	GET /v1/products?ids=ID,ID,...        products by id, with the ids not found
//	POST /graphql, GET /graphql?query=... the same reads in GraphQL (schema.graphql), selective
//	GET /healthz                          the process answers (no authentication)
//
// Every other request needs the authentication the Server is given. Every
// answer carries an X-Request-Id: the caller's (1 to 64 letters, digits,
// ".", "_" or "-") or a new one. Errors are JSON:
//
//	{"error": {"code": "BAD_REQUEST", "message": ..., "request_id": ..., "parameter" | "database": ...}}
//
// with a code of Code, a message that names no host, port, user or
// configuration key, and the details in the log under the request id.
type Server struct {
	Reader          *federation.Reader
	DefaultPageSize int
	MaxPageSize     int
	MaxIDs          int // ids of one ?ids=; 0: 100
	MaxIDLength     int // bytes of one id, in the path, ?ids= or a cursor; 0: 128
	// Tokens are the bearer tokens accepted; none: no token is asked for.
	Tokens []config.Secret
	// ClientCerts asks every request for a client certificate verified by
	// the listener's TLS configuration (tls.VerifyClientCertIfGiven).
	ClientCerts bool
	// GraphQL bounds /graphql and turns its introspection on; its zero
	// value refuses every query (MaxDepth and MaxCost 0).
	GraphQL config.GraphQL
	Logger  zerolog.Logger
}

// Limits of a Server whose fields are 0.
const (
	DefaultMaxIDs      = 100
	DefaultMaxIDLength = 128
	// echoLength is the most bytes of a caller's input an error message
	// quotes.
	echoLength = 64
)

// Handler routes the API behind the request id and authentication.
func (a *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/orders", a.handle(a.orders))
	mux.HandleFunc("GET /v1/orders/{id}", a.handle(a.order))
	mux.HandleFunc("GET /v1/products", a.handle(a.products))
	graphQL := a.graphQL()
	mux.Handle("GET "+GraphQLPath, graphQL)
	mux.Handle("POST "+GraphQLPath, graphQL)
	mux.HandleFunc("/", a.handle(func(r *http.Request) (any, error) {
		return nil, &Error{Code: CodeNotFound, Message: "no such resource: " + r.Method + " " + echo(r.URL.Path)}
	}))
	auth := a.authenticate(mux)
	return a.withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		auth.ServeHTTP(w, r)
	}))
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
			return nil, badParam("limit", "want an integer from 1 to %d, got %s", a.MaxPageSize, echo(s))
		}
		limit = n
	}
	var after *federation.Cursor
	if s := q.Get("after"); s != "" {
		c, err := a.cursor(s)
		if err != nil {
			return nil, err
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

// cursor parses an after= parameter; it refuses a cursor longer than one
// that holds an id of MaxIDLength before decoding it.
func (a *Server) cursor(s string) (federation.Cursor, error) {
	if len(s) > base64.RawURLEncoding.EncodedLen(len(time.RFC3339Nano)+1+a.maxIDLength()) {
		return federation.Cursor{}, badParam("after", "not a cursor from a previous page's next: %d bytes is too long", len(s))
	}
	c, err := federation.ParseCursor(s)
	if err != nil {
		return c, badParam("after", "%v", err)
	}
	return c, a.checkID("after", "the cursor's id", c.ID)
}

func (a *Server) order(r *http.Request) (any, error) {
	id := r.PathValue("id")
	if err := a.checkID("id", "order id", id); err != nil {
		return nil, err
	}
	o, err := a.Reader.Order(r.Context(), id)
	if errors.Is(err, federation.ErrNotFound) {
		return nil, &Error{Code: CodeNotFound, Message: "order " + echo(id) + " not found", Err: err}
	}
	return o, err
}

func (a *Server) products(r *http.Request) (any, error) {
	ids, err := a.ids(r.URL.Query().Get("ids"))
	if err != nil {
		return nil, err
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

// ids parses an ids= parameter: 1 to MaxIDs comma-separated ids, each
// passing checkID.
func (a *Server) ids(raw string) ([]string, error) {
	maxIDs := a.maxIDs()
	var ids []string
	for id := range strings.SplitSeq(raw, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if len(ids) == maxIDs {
			return nil, badParam("ids", "at most %d product ids per request, got more", maxIDs)
		}
		if err := a.checkID("ids", "product id", id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, badParam("ids", "want 1 to %d comma-separated product ids, got %s", maxIDs, echo(raw))
	}
	return ids, nil
}

func (a *Server) maxIDs() int {
	if a.MaxIDs <= 0 {
		return DefaultMaxIDs
	}
	return a.MaxIDs
}

func (a *Server) maxIDLength() int {
	if a.MaxIDLength <= 0 {
		return DefaultMaxIDLength
	}
	return a.MaxIDLength
}

// checkID refuses an id that PostgreSQL cannot take as text (invalid
// UTF-8, a NUL byte) or that is longer than MaxIDLength.
func (a *Server) checkID(param, what, id string) error {
	switch {
	case len(id) > a.maxIDLength():
		return badParam(param, "a %s has at most %d bytes, got %d: %s", what, a.maxIDLength(), len(id), echo(id))
	case !utf8.ValidString(id):
		return badParam(param, "a %s must be valid UTF-8, got %s", what, echo(id))
	case strings.ContainsRune(id, 0):
		return badParam(param, "a %s must not hold a NUL byte, got %s", what, echo(id))
	}
	return nil
}

// echo quotes a caller's input for a message, cut at a character
// boundary so that the quoted text holds at most echoLength bytes (an
// invalid byte takes four: \xff), with "..." and the input's length when
// cut.
func echo(s string) string {
	if q := strconv.Quote(s); len(q) <= echoLength+2 {
		return q
	}
	cut, quoted := 0, 0
	for cut < len(s) {
		_, w := utf8.DecodeRuneInString(s[cut:])
		if quoted += len(strconv.Quote(s[cut:cut+w])) - 2; quoted > echoLength {
			break
		}
		cut += w
	}
	return strconv.Quote(s[:cut]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
