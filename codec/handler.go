package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/converter"
)

// MaxRequestBytes bounds the body of one /encode or /decode request.
const MaxRequestBytes = 8 << 20

// HeaderNamespace is the header in which the Web UI and the Temporal CLI
// name the namespace whose payloads they send.
const HeaderNamespace = "X-Namespace"

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Namespace is the Temporal namespace whose payloads the keyring
	// protects: a request whose X-Namespace header names another is
	// refused (403). A request without the header is served.
	Namespace string
	// Origins are the browser origins allowed by CORS (the Web UI's, such
	// as "http://localhost:8233"); other origins get no CORS headers.
	Origins []string
	// Token, when not empty, is the bearer token every /encode and /decode
	// request must carry in its Authorization header (compared in constant
	// time); otherwise the answer is 401.
	Token  string
	Logger zerolog.Logger
}

// Handler serves Temporal's codec server protocol for c: POST /encode and
// POST /decode with a JSON body {"payloads": [...]} of payloads in the
// protobuf JSON form, answered in the same form (the SDK's
// converter.NewPayloadCodecHTTPHandler does the protocol). Around it:
// CORS for the configured origins (preflights included), the bearer token,
// the namespace check and a bound on the request body.
func Handler(c *Codec, o HandlerOptions) http.Handler {
	codecs := converter.NewPayloadCodecHTTPHandler(c)
	mux := http.NewServeMux()
	mux.Handle("POST /encode", codecs)
	mux.Handle("POST /decode", codecs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(o.Origins, origin)
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+HeaderNamespace)
			h.Set("Access-Control-Max-Age", "600")
		}
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			if !allowed {
				o.Logger.Info().Str("origin", origin).Msg("codec server: CORS preflight from an origin not in codec.cors_origins")
				http.Error(w, "origin not allowed; add it to codec.cors_origins", http.StatusForbidden)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if o.Token != "" && !validToken(r.Header.Get("Authorization"), o.Token) {
			o.Logger.Info().Str("remote", r.RemoteAddr).Str("path", r.URL.Path).Msg("codec server: request without a valid bearer token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="fedsaga codec server"`)
			http.Error(w, "missing or invalid bearer token", http.StatusUnauthorized)
			return
		}
		if ns := r.Header.Get(HeaderNamespace); ns != "" && ns != o.Namespace {
			o.Logger.Info().Str("namespace", ns).Msg("codec server: request for another namespace")
			http.Error(w, "this codec server serves namespace "+o.Namespace, http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		mux.ServeHTTP(w, r)
	})
}

// validToken compares the bearer token of an Authorization header with
// want in constant time.
func validToken(header, want string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		token = ""
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(want)) == 1
}
