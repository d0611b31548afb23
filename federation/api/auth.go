package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/fedsaga/fedsaga/config"
)

// ErrNoAuth is the Err of the *config.Error that Start returns when the
// read API would serve without authentication: no token, no client CA,
// and federation.api.auth is not "none". An API that anyone who reaches
// its port can read is a choice to write down, never a default.
var ErrNoAuth = errors.New(`the read API has no authentication: set federation.api.tokens or federation.api.tls.client_ca_file, ` +
	`or auth = "none" for an address that only trusted clients reach (loopback, or behind a proxy that authenticates)`)

// authenticate asks of every request a bearer token of Tokens and a
// verified client certificate when ClientCerts is set; with neither, it
// lets every request through.
func (a *Server) authenticate(next http.Handler) http.Handler {
	if len(a.Tokens) == 0 && !a.ClientCerts {
		return next
	}
	digests := make([][sha256.Size]byte, len(a.Tokens))
	for i, t := range a.Tokens {
		digests[i] = sha256.Sum256([]byte(t.Value()))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.ClientCerts && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			a.fail(w, r, &Error{Code: CodeUnauthenticated, Message: "a client certificate signed by a trusted CA is required"})
			return
		}
		if len(digests) > 0 {
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="fedsaga"`)
				a.fail(w, r, &Error{Code: CodeUnauthenticated, Message: "a bearer token is required (Authorization: Bearer TOKEN)"})
				return
			}
			if !knownToken(digests, token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="fedsaga", error="invalid_token"`)
				a.fail(w, r, &Error{Code: CodeUnauthenticated, Message: "the bearer token is not valid"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// knownToken compares token with every configured one in constant time:
// their SHA-256 digests have the same length whatever the token's, and
// every token is compared, so neither a token's length nor which one
// matched shows in the time taken.
func knownToken(digests [][sha256.Size]byte, token string) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, d := range digests {
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	return match == 1
}

// TLSConfig is the TLS configuration of the read API's listener, nil for
// plain HTTP: the server certificate of cert_file and key_file, and, with
// client_ca_file, client certificates verified against its CAs. A client
// without a certificate still completes the handshake, so /healthz answers
// it and every other path says UNAUTHENTICATED.
func TLSConfig(c config.APITLS) (*tls.Config, error) {
	if c.CertFile == "" && c.KeyFile == "" && c.ClientCAFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, &config.Error{Key: "federation.api.tls.cert_file", Err: fmt.Errorf("load the certificate and key_file: %w", err)}
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, &config.Error{Key: "federation.api.tls.client_ca_file", Err: err}
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, &config.Error{Key: "federation.api.tls.client_ca_file", Err: fmt.Errorf("%s holds no PEM certificate", c.ClientCAFile)}
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
