package api_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
	"github.com/fedsaga/fedsaga/internal/tlstest"
	"github.com/fedsaga/fedsaga/server"
)

// TestReadAPIHardening: the read API is authenticated, bounded in time and
// size, and refuses what PostgreSQL cannot read with 400, not 500.
func TestReadAPIHardening(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 3)
	t.Run("Tokens", func(t *testing.T) { testTokens(t, dbs, d) })
	t.Run("RefusesToServeOpen", func(t *testing.T) { testRefusesToServeOpen(t, dbs) })
	t.Run("MutualTLS", func(t *testing.T) { testMutualTLS(t, dbs, d) })
	t.Run("Timeouts", func(t *testing.T) { testTimeouts(t, dbs) })
	t.Run("BoundedInput", func(t *testing.T) { testBoundedInput(t, dbs, d) })
}

const (
	tokenOld = "old-token-0123456789abcdef"
	tokenNew = "new-token-0123456789abcdef"
)

// testTokens: without a token or with a wrong one, 401 and a
// WWW-Authenticate challenge; either of two tokens (rotation) is let in;
// /healthz and /metrics need none.
func testTokens(t *testing.T, dbs map[string]config.Database, d pgtest.Orders) {
	s := start(t, dbs, func(f *config.Federation) {
		f.API.Auth, f.API.Tokens = config.APIAuthRequired, []config.Secret{tokenOld, tokenNew}
	})
	url := s.base + "/v1/orders/" + d.IDs[0]
	for _, tc := range []struct {
		name, authorization, challenge string
	}{
		{"no header", "", `Bearer realm="fedsaga"`},
		{"another scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+tokenOld)), `Bearer realm="fedsaga"`},
		{"wrong token", "Bearer " + tokenOld + "x", `Bearer realm="fedsaga", error="invalid_token"`},
		{"prefix of a token", "Bearer " + tokenOld[:10], `Bearer realm="fedsaga", error="invalid_token"`},
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		r := do(t, nil, req)
		if r.code != 401 || r.errField("code") != "UNAUTHENTICATED" || r.header.Get("WWW-Authenticate") != tc.challenge || strings.Contains(r.raw, d.IDs[0]) {
			t.Errorf("%s: %d %q %s, want 401 UNAUTHENTICATED with %s", tc.name, r.code, r.header.Get("WWW-Authenticate"), r.raw, tc.challenge)
		}
	}
	for _, token := range []string{tokenOld, tokenNew} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "bearer "+token)
		if r := do(t, nil, req); r.code != 200 || r.body["id"] != d.IDs[0] {
			t.Errorf("token %s...: %d %s, want the order", token[:4], r.code, r.raw)
		}
	}
	if r := get(t, s.base+"/healthz"); r.code != 200 {
		t.Errorf("/healthz without a token: %d, want 200", r.code)
	}
	if r := get(t, "http://"+s.svc.Metrics.Addr()+"/metrics"); r.code != 200 {
		t.Errorf("/metrics without a token: %d, want 200", r.code)
	}
	if lines := s.log.errorLines(t); len(lines) > 0 {
		t.Errorf("refused requests were logged at error level: %v", lines)
	}
}

// testRefusesToServeOpen: with no token and no client CA, the read API
// starts only when auth = "none" says so.
func testRefusesToServeOpen(t *testing.T, dbs map[string]config.Database) {
	reg, err := pg.Open(dbs, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	cfg := config.Default().Federation
	cfg.HTTPAddress, cfg.API.MetricsAddress = "127.0.0.1:0", ""
	reader, err := federation.NewReader(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := api.Start(cfg, reader, server.Metrics(reg), zerolog.Nop())
	var ce *config.Error
	if !errors.Is(err, api.ErrNoAuth) || !errors.As(err, &ce) || ce.Key != "federation.api.auth" {
		if svc != nil {
			svc.Shutdown(time.Second)
		}
		t.Fatalf("Start without authentication = %v, want ErrNoAuth naming federation.api.auth", err)
	}
}

// testMutualTLS: with a client CA, a request needs a certificate it
// signed; one of another CA or an expired one fails the handshake.
func testMutualTLS(t *testing.T, dbs map[string]config.Database, d pgtest.Orders) {
	ca, other := tlstest.NewCA(t, "fedsaga clients"), tlstest.NewCA(t, "someone else")
	serverCert := ca.Server(t, "read-api")
	s := start(t, dbs, func(f *config.Federation) {
		f.API.Auth = config.APIAuthRequired
		f.API.TLS = config.APITLS{CertFile: serverCert.CertFile, KeyFile: serverCert.KeyFile, ClientCAFile: ca.File(t)}
	})
	// client presents certs, even when the server asks for another CA's
	// (the server, not the client, must refuse them).
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if len(certs) == 0 {
					return &tls.Certificate{}, nil
				}
				return &certs[0], nil
			}}}}
	}
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, s.base+"/v1/orders/"+d.IDs[0], nil)
		return r
	}
	good := ca.Client(t, "reporting", time.Now().Add(time.Hour))
	if r := do(t, client(good.TLS), req()); r.code != 200 || r.body["id"] != d.IDs[0] {
		t.Errorf("with a client certificate: %d %s, want the order", r.code, r.raw)
	}
	if r := do(t, client(), req()); r.code != 401 || r.errField("code") != "UNAUTHENTICATED" {
		t.Errorf("without a client certificate: %d %s, want 401 UNAUTHENTICATED", r.code, r.raw)
	}
	hreq, _ := http.NewRequest(http.MethodGet, s.base+"/healthz", nil)
	if r := do(t, client(), hreq); r.code != 200 {
		t.Errorf("/healthz without a client certificate: %d, want 200", r.code)
	}
	for name, cert := range map[string]tlstest.Leaf{
		"another CA's": other.Client(t, "intruder", time.Now().Add(time.Hour)),
		"an expired":   ca.Client(t, "expired", time.Now().Add(-time.Minute)),
	} {
		resp, err := client(cert.TLS).Do(req())
		if err == nil {
			resp.Body.Close()
			t.Errorf("with %s certificate: %s, want a failed handshake", name, resp.Status)
		}
	}
	if r := get(t, "http://"+s.svc.API.Addr()+"/healthz"); r.code != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS listener: %d %s, want 400", r.code, r.raw)
	}
}

// testTimeouts: a client that sends its headers and then stalls the body,
// or keeps an idle connection open, is cut off after the configured
// timeout; oversized headers are refused.
func testTimeouts(t *testing.T, dbs map[string]config.Database) {
	const timeout = 500 * time.Millisecond
	s := start(t, dbs, func(f *config.Federation) {
		f.API.ReadTimeout, f.API.IdleTimeout = timeout, timeout
	})
	addr := s.svc.API.Addr()

	// closedWithin sends req on a new connection, reads what comes back
	// and reports how long until the server closed the connection.
	closedWithin := func(req string) (time.Duration, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		began := time.Now()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * timeout))
		got, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return -1, string(got)
		}
		return time.Since(began), string(got)
	}
	for name, req := range map[string]string{
		"stalled body":    "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little",
		"idle keep-alive": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		took, got := closedWithin(req)
		if took < 0 || took > 4*timeout {
			t.Errorf("%s: connection still open %s after the request (timeouts %s); read %q", name, 10*timeout, timeout, got)
		}
	}

	// Headers above server.MaxHeaderBytes: 431.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 2*server.MaxHeaderBytes)+"\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers of %d bytes: %v %v, want 431", 2*server.MaxHeaderBytes, resp, err)
	}
}

// testBoundedInput: too many ids, too long an id, invalid UTF-8 or a NUL
// byte in the path, ids or a cursor are a 400 whose message quotes at most
// a short prefix of the input, logged below error level.
func testBoundedInput(t *testing.T, dbs map[string]config.Database, d pgtest.Orders) {
	s := start(t, dbs, func(f *config.Federation) { f.API.MaxIDs, f.API.MaxIDLength = 5, 40 })
	long := strings.Repeat("x", 10000)
	cursor := func(id string) string {
		return base64.RawURLEncoding.EncodeToString([]byte("2026-01-02T03:04:05Z|" + id))
	}
	for _, tc := range []struct {
		name, path, param, want string
	}{
		{"six ids", "/v1/products?ids=a,b,c,d,e,f", "ids", "at most 5 product ids"},
		{"three thousand ids", "/v1/products?ids=" + strings.Repeat("i,", 3000), "ids", "at most 5 product ids"},
		{"long id", "/v1/products?ids=" + long, "ids", "at most 40 bytes, got 10000"},
		{"long order id", "/v1/orders/" + long, "id", "at most 40 bytes, got 10000"},
		{"long cursor", "/v1/orders?after=" + cursor(long), "after", "too long"},
		{"long limit", "/v1/orders?limit=" + long, "limit", "got \"xxxx"},
		{"invalid UTF-8 id", "/v1/products?ids=ok,%ff%fe", "ids", "valid UTF-8"},
		{"NUL in ids", "/v1/products?ids=a%00b", "ids", "NUL"},
		{"invalid UTF-8 in the path", "/v1/orders/%ff", "id", "valid UTF-8"},
		{"NUL in the path", "/v1/orders/a%00b", "id", "NUL"},
		{"invalid UTF-8 in a cursor", "/v1/orders?after=" + cursor("\xff\xfe"), "after", "not a cursor"},
		{"NUL in a cursor", "/v1/orders?after=" + cursor("a\x00b"), "after", "not a cursor"},
	} {
		r := get(t, s.base+tc.path)
		msg := r.errField("message")
		if r.code != 400 || r.errField("code") != "BAD_REQUEST" || r.errField("parameter") != tc.param || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %.300s, want 400 BAD_REQUEST on %s saying %q", tc.name, r.code, r.raw, tc.param, tc.want)
		}
		if len(msg) > 200 || strings.Contains(msg, strings.Repeat("x", 100)) {
			t.Errorf("%s: message of %d bytes echoes the input: %.300s", tc.name, len(msg), msg)
		}
	}
	if r := get(t, s.base+"/v1/products?ids="+url.QueryEscape(d.Products[0]+",a,b,c,d")); r.code != 200 {
		t.Errorf("5 ids (the limit): %d %s, want 200", r.code, r.raw)
	}
	if lines := s.log.errorLines(t); len(lines) > 0 {
		t.Errorf("bad input was logged at error level: %v", lines)
	}
	var debug int
	for _, l := range s.log.lines(t) {
		if l["level"] == "debug" && l["code"] == "BAD_REQUEST" && l["request_id"] != "" {
			debug++
		}
	}
	if debug == 0 {
		t.Error("bad input left no debug-level line with its request id")
	}
}
