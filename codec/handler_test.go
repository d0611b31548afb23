package codec

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/rs/zerolog"
)

const (
	testToken  = "codec-token-123"
	testOrigin = "http://localhost:8233"
)

func testServer(t *testing.T) (*httptest.Server, *Codec) {
	t.Helper()
	c, err := New("k1", map[string][]byte{"k1": newKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(c, HandlerOptions{Namespace: "default", Origins: []string{testOrigin}, Token: testToken, Logger: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	return srv, c
}

func call(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHandlerRoundTrip: the SDK's remote codec (what the Temporal CLI
// uses) encodes and decodes through the server, with the token and the
// namespace header; a history payload decodes as the worker wrote it.
func TestHandlerRoundTrip(t *testing.T) {
	srv, c := testServer(t)
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: srv.URL,
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+testToken)
			r.Header.Set(HeaderNamespace, "default")
			return nil
		},
	})
	in := []*commonpb.Payload{payload(t, "cust-4711"), payload(t, map[string]int{"quantity": 2})}
	enc, err := remote.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(enc[0].Metadata["encoding"]) != Encoding || strings.Contains(string(enc[0].Data), "cust-4711") {
		t.Errorf("/encode returned %v; want ciphertext", enc[0])
	}
	dec, err := remote.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(dec[i], in[i]) {
			t.Errorf("payload %d: %v, want %v", i, dec[i], in[i])
		}
	}
	// What a worker encrypted, the server decrypts: the JSON body the Web UI sends.
	local, _ := c.Encode(in[:1])
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: local})
	resp, out := call(t, http.MethodPost, srv.URL+"/decode", body, map[string]string{
		"Authorization": "Bearer " + testToken, "Content-Type": "application/json", HeaderNamespace: "default", "Origin": testOrigin})
	var got commonpb.Payloads
	if resp.StatusCode != http.StatusOK || protojson.Unmarshal([]byte(out), &got) != nil || !proto.Equal(got.Payloads[0], in[0]) {
		t.Errorf("/decode: %d %s; want the plaintext payload", resp.StatusCode, out)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != testOrigin {
		t.Errorf("/decode from the Web UI's origin: CORS header %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestHandlerAuth: without the token, with another token or scheme, the
// answer is 401 and nothing is decoded.
func TestHandlerAuth(t *testing.T) {
	srv, c := testServer(t)
	enc, _ := c.Encode([]*commonpb.Payload{payload(t, "cust-4711")})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	for name, auth := range map[string]string{
		"missing": "", "wrong token": "Bearer codec-token-124", "prefix of the token": "Bearer codec-token",
		"basic scheme": "Basic " + testToken, "token alone": testToken,
	} {
		for _, path := range []string{"/decode", "/encode"} {
			h := map[string]string{"Content-Type": "application/json"}
			if auth != "" {
				h["Authorization"] = auth
			}
			resp, out := call(t, http.MethodPost, srv.URL+path, body, h)
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(out, "cust-4711") || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: %d %q; want 401 with WWW-Authenticate", name, path, resp.StatusCode, out)
			}
		}
	}
}

// TestHandlerCORS: a preflight from the configured origin is allowed with
// the headers the Web UI sends; any other origin gets no CORS header.
func TestHandlerCORS(t *testing.T) {
	srv, _ := testServer(t)
	preflight := map[string]string{"Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,x-namespace"}
	preflight["Origin"] = testOrigin
	resp, _ := call(t, http.MethodOptions, srv.URL+"/decode", nil, preflight)
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != testOrigin ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), HeaderNamespace) {
		t.Errorf("preflight from %s: %d %v", testOrigin, resp.StatusCode, h)
	}
	for _, origin := range []string{"http://evil.example", "http://localhost:8234", "http://localhost:8233.evil.example", "null"} {
		preflight["Origin"] = origin
		resp, _ := call(t, http.MethodOptions, srv.URL+"/decode", nil, preflight)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d, allow-origin %q; want 403 and none", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		resp, _ = call(t, http.MethodPost, srv.URL+"/decode", []byte(`{"payloads":[]}`), map[string]string{"Origin": origin, "Authorization": "Bearer " + testToken})
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("POST from %s: allow-origin %q; want none", origin, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

// TestHandlerNamespace: a request for another namespace is refused; one
// without the header, or for the configured namespace, is served.
func TestHandlerNamespace(t *testing.T) {
	srv, _ := testServer(t)
	body := []byte(`{"payloads":[]}`)
	auth := "Bearer " + testToken
	for ns, want := range map[string]int{"": http.StatusOK, "default": http.StatusOK, "other": http.StatusForbidden} {
		h := map[string]string{"Authorization": auth}
		if ns != "" {
			h[HeaderNamespace] = ns
		}
		resp, out := call(t, http.MethodPost, srv.URL+"/decode", body, h)
		if resp.StatusCode != want {
			t.Errorf("X-Namespace %q: %d %s; want %d", ns, resp.StatusCode, out, want)
		}
		if want == http.StatusForbidden && !strings.Contains(out, "serves namespace default") {
			t.Errorf("X-Namespace %q: %q; want the namespace it serves", ns, out)
		}
	}
}

// TestHandlerLimits: other paths and methods are 404 or 405, a body over
// MaxRequestBytes is refused, an unknown key id is a 400 naming it.
func TestHandlerLimits(t *testing.T) {
	srv, _ := testServer(t)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	if resp, _ := call(t, http.MethodPost, srv.URL+"/metrics", []byte(`{}`), auth); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /metrics: %d, want 404", resp.StatusCode)
	}
	if resp, _ := call(t, http.MethodGet, srv.URL+"/decode", nil, auth); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /decode: %d, want 405", resp.StatusCode)
	}
	big := `{"payloads":[{"data":"` + strings.Repeat("A", MaxRequestBytes) + `"}]}`
	if resp, _ := call(t, http.MethodPost, srv.URL+"/decode", []byte(big), auth); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("body over the limit: %d, want 400", resp.StatusCode)
	}
	other, _ := New("k7", map[string][]byte{"k7": newKey(t)})
	enc, _ := other.Encode([]*commonpb.Payload{payload(t, "x")})
	body, _ := json.Marshal(&commonpb.Payloads{Payloads: enc})
	if resp, out := call(t, http.MethodPost, srv.URL+"/decode", body, auth); resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, `"k7"`) {
		t.Errorf("unknown key: %d %q; want 400 naming k7", resp.StatusCode, out)
	}
}
