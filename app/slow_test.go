package app_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// slowProxy forwards TCP connections to a store, holding back every chunk of bytes,
// either way, for its delay: a store that answers, but too late.
type slowProxy struct {
	ln       net.Listener
	upstream string
	delay    atomic.Int64 // nanoseconds
	mu       sync.Mutex
	conns    []net.Conn
}

// newSlowProxy forwards a loopback port to upstream until the test ends, without
// delay until setDelay.
func newSlowProxy(t *testing.T, upstream string) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, upstream: upstream}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *slowProxy) addr() string { return p.ln.Addr().String() }

func (p *slowProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

func (p *slowProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies from src to dst, each chunk sent the delay after it was read, in
// order; a slow link still carries what was sent before it closed.
func (p *slowProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		data []byte
		due  time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer dst.Close()
		for c := range chunks {
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.data); err != nil {
				return
			}
		}
	}()
	defer close(chunks)
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunks <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(time.Duration(p.delay.Load()))}
		}
		if err != nil {
			return
		}
	}
}

func (p *slowProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestSlowStore puts a store that answers later than REQUEST_TIMEOUT behind the
// server: every request still answers, 503 unavailable, within REQUEST_TIMEOUT and a
// second, the audit event's time included.
func TestSlowStore(t *testing.T) {
	store := newSeparateStore(t)
	store.start()
	proxy := newSlowProxy(t, store.cfg.EmbeddedAddr)
	srv := runOver(t, "mongodb://"+proxy.addr()+"/")
	waitFor(t, "the server to be ready", func() bool {
		return timedRequest(t, "GET", srv.base+"/readyz", "", "").status == http.StatusOK
	})
	keys := map[models.Role]string{}
	for _, role := range models.Roles() {
		keys[role] = store.issueKey(role)
	}
	if a := timedRequest(t, "POST", srv.base+"/api/v1/patients", keys[models.RoleClinician], `{"insurance_no":"OUT-1"}`); a.status != http.StatusCreated {
		t.Fatalf("create a patient: %d %s", a.status, a.body)
	}

	proxy.setDelay(outageTimeout + 500*time.Millisecond)
	// The first requests wait on connections the driver holds open, the later ones
	// on a store the driver has given up on.
	for range 3 {
		assertAllUnavailable(t, srv.base, keys)
	}
}

// TestSlowStoreThenFast slows the store down so that the server's writes reach it
// but their answers come too late, then lets it answer in time again: the routes
// must answer again by themselves, and the audit trail verifies.
func TestSlowStoreThenFast(t *testing.T) {
	store := newSeparateStore(t)
	store.start()
	proxy := newSlowProxy(t, store.cfg.EmbeddedAddr)
	srv := runOver(t, "mongodb://"+proxy.addr()+"/")
	waitFor(t, "the server to be ready", func() bool {
		return timedRequest(t, "GET", srv.base+"/readyz", "", "").status == http.StatusOK
	})
	key := store.issueKey(models.RoleClinician)
	if a := timedRequest(t, "POST", srv.base+"/api/v1/patients", key, `{"insurance_no":"OUT-1"}`); a.status != http.StatusCreated {
		t.Fatalf("create a patient: %d %s", a.status, a.body)
	}
	// A round trip takes half the request timeout: the audit event goes out, and
	// its answer comes too late.
	proxy.setDelay(outageTimeout / 4)
	for range 3 {
		timedRequest(t, "GET", srv.base+"/api/v1/patients/OUT-1", key, "")
	}
	proxy.setDelay(0)
	waitFor(t, "the routes to answer again", func() bool {
		return timedRequest(t, "GET", srv.base+"/api/v1/patients/OUT-1", key, "").status == http.StatusOK
	})
	// The events whose answers came too late are in the chain, which goes on and
	// verifies.
	a := timedRequest(t, "GET", srv.base+"/api/v1/audit/verify", store.issueKey(models.RoleAuditor), "")
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"ok":true`) {
		t.Errorf("verify after the slow store: %d %s", a.status, a.body)
	}
}
