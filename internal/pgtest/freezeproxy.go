package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// FreezeProxy forwards TCP connections to a PostgreSQL server and, once
// frozen, stops passing the server's answers on: the database looks alive
// (connections stay open) but never answers. Closed with the test.
type FreezeProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed when the proxy is closed
	once   sync.Once
}

// NewFreezeProxy starts a proxy to the host of dbURL and returns it with
// dbURL pointed at it.
func NewFreezeProxy(t testing.TB, dbURL string) (*FreezeProxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FreezeProxy{ln: ln, target: u.Host, thaw: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.Close)
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *FreezeProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(client)
	}
}

func (p *FreezeProxy) forward(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go io.Copy(server, client)
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if p.isFrozen() {
			<-p.thaw // hold the answer until the test ends
			return
		}
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze makes the server's answers stop at the proxy from now on.
func (p *FreezeProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *FreezeProxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// Close stops the proxy and drops its connections; the clients see them
// closed. It may be called more than once.
func (p *FreezeProxy) Close() {
	p.once.Do(func() {
		p.ln.Close()
		close(p.thaw)
	})
}
