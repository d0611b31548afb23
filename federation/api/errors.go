package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/pg"
)

// Code is the stable, machine-readable kind of an error body; callers
// branch on it, never on the message.
type Code string

// The codes of the read API's errors, with their HTTP status.
const (
	CodeBadRequest          Code = "BAD_REQUEST"          // 400: a parameter, the path or an id is invalid
	CodeUnauthenticated     Code = "UNAUTHENTICATED"      // 401: no valid bearer token or client certificate
	CodeNotFound            Code = "NOT_FOUND"            // 404: no such order or resource
	CodeInternal            Code = "INTERNAL"             // 500: anything else; the log has the details
	CodeDatabaseUnavailable Code = "DATABASE_UNAVAILABLE" // 503: a database cannot be reached
	CodePoolExhausted       Code = "POOL_EXHAUSTED"       // 503: a database's pool had no free connection in time
	CodeFederationTimeout   Code = "FEDERATION_TIMEOUT"   // 504: a database did not answer in time
)

var statuses = map[Code]int{
	CodeBadRequest: http.StatusBadRequest, CodeUnauthenticated: http.StatusUnauthorized, CodeNotFound: http.StatusNotFound,
	CodeInternal: http.StatusInternalServerError, CodeDatabaseUnavailable: http.StatusServiceUnavailable,
	CodePoolExhausted: http.StatusServiceUnavailable, CodeFederationTimeout: http.StatusGatewayTimeout,
}

// Status is the HTTP status of the code.
func (c Code) Status() int { return statuses[c] }

// Error is an error of the read API as its caller sees it. Message is safe
// to show: it names a parameter or a database, never a host, port, user,
// URL or configuration key; Err, the cause, goes only to the log.
type Error struct {
	Code      Code
	Message   string
	Parameter string // the query parameter or path value at fault, for BAD_REQUEST
	Database  string // the database at fault, for the 503 and 504 codes
	Err       error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

func badParam(param, format string, args ...any) *Error {
	return &Error{Code: CodeBadRequest, Message: param + ": " + fmt.Sprintf(format, args...), Parameter: param}
}

// classify turns any error of a read into the Error a caller sees.
func classify(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if e, ok := errors.AsType[*federation.FederationTimeoutError](err); ok {
		return &Error{Code: CodeFederationTimeout, Database: e.Database, Err: err,
			Message: fmt.Sprintf("database %q did not answer in time; retry later", e.Database)}
	}
	if e, ok := errors.AsType[*pg.PoolExhaustedError](err); ok {
		return &Error{Code: CodePoolExhausted, Database: e.Database, Err: err,
			Message: fmt.Sprintf("database %q has no free connection; retry later", e.Database)}
	}
	if e, ok := errors.AsType[*pg.DatabaseConnectionError](err); ok {
		return &Error{Code: CodeDatabaseUnavailable, Database: e.Database, Err: err,
			Message: fmt.Sprintf("database %q cannot be reached; retry later", e.Database)}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// body is the JSON of an error.
type body struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Parameter string `json:"parameter,omitempty"`
	Database  string `json:"database,omitempty"`
}

// handle serves fn's value as JSON, or its error as an error body.
func (a *Server) handle(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			a.fail(w, r, classify(err))
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// fail logs e under the request id, the cause only there, and answers
// with its body. A caller's mistake is logged at debug level, so bad
// requests cannot flood the log; a failure of fedsaga at error level.
func (a *Server) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	id := requestID(r.Context())
	status := e.Code.Status()
	ev := a.Logger.Debug()
	if status >= 500 {
		ev = a.Logger.Error()
	}
	ev.Str("request_id", id).Str("method", r.Method).Str("path", echo(r.URL.Path)).Int("status", status).
		Str("code", string(e.Code)).Str("message", e.Message).AnErr("cause", e.Err).Msg("read API request failed")
	b := body{Code: e.Code, Message: e.Message, RequestID: id, Parameter: e.Parameter, Database: e.Database}
	if r.URL.Path == GraphQLPath {
		graphQLFail(w, status, b)
		return
	}
	writeJSON(w, status, map[string]body{"error": b})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// goodRequestID is a caller's request id fedsaga keeps: short, and
// nothing that could forge a log line or a header.
var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type requestIDKey struct{}

// withRequestID keeps the caller's X-Request-Id when it is a goodRequestID,
// else makes one, and sets it on the answer and the request's context.
func (a *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !goodRequestID.MatchString(id) {
			id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
