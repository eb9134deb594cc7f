package integration

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// tcpProxy forwards TCP connections to a registry and breaks them as told:
// it resets a connection once after so many bytes in one direction, flips
// a byte of what the registry sends, or accepts and never answers.
type tcpProxy struct {
	Host   string
	target string

	mu        sync.Mutex
	resetDown int64 // reset once after this many bytes registry -> client
	resetUp   int64 // reset once after this many bytes client -> registry
	flipAt    int64 // flip the byte at this offset of every connection's answers
	hang      bool
	sawRange  bool
	resets    int
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{Host: l.Addr().String(), target: target}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c, done)
		}
	}()
	return p
}

func (p *tcpProxy) serve(client net.Conn, done chan struct{}) {
	defer client.Close()
	p.mu.Lock()
	hang := p.hang
	p.mu.Unlock()
	if hang {
		go io.Copy(io.Discard, client)
		<-done
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	reset := func() {
		client.(*net.TCPConn).SetLinger(0)
		server.(*net.TCPConn).SetLinger(0)
		client.Close()
		server.Close()
	}
	go p.pipe(server, client, true, reset)
	p.pipe(client, server, false, reset)
}

// pipe copies one direction; up is client -> registry.
func (p *tcpProxy) pipe(dst, src net.Conn, up bool, reset func()) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			b := buf[:k]
			p.mu.Lock()
			if up && bytes.Contains(b, []byte("\r\nRange: bytes=")) {
				p.sawRange = true
			}
			limit := &p.resetDown
			if up {
				limit = &p.resetUp
			}
			cut := *limit > 0 && n+int64(k) >= *limit
			if cut {
				b = b[:*limit-n]
				*limit = 0
				p.resets++
			}
			if !up && p.flipAt > 0 && n <= p.flipAt && p.flipAt < n+int64(len(b)) {
				b = bytes.Clone(b)
				b[p.flipAt-n] ^= 0xff
			}
			p.mu.Unlock()
			dst.Write(b)
			n += int64(len(b))
			if cut {
				reset()
				return
			}
		}
		if err != nil {
			dst.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

func (p *tcpProxy) set(f func(p *tcpProxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// oneLine fails the test unless errOut is one "Error: " line saying want.
func oneErrorLine(t *testing.T, what, errOut, want string) {
	t.Helper()
	errOut = strings.TrimSpace(errOut)
	t.Logf("%s: %s", what, errOut)
	if strings.Contains(errOut, "\n") || !strings.HasPrefix(errOut, "Error: ") || !strings.Contains(errOut, want) {
		t.Errorf("%s: want one line saying %q, got:\n%s", what, want, errOut)
	}
}

// TestNetworkFaults: a pull and a push through a proxy that resets the
// connection in the middle of a blob finish with the right digests (the
// pull resumes the blob with a Range request, the push restarts it); a
// registry whose bytes are altered is refused and nothing is stored; a
// registry that never answers times out with one line.
func TestNetworkFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry")
	}
	reg := registrytest.Start(t, registrytest.Options{})
	px := newTCPProxy(t, reg.Host)
	src := t.TempDir()
	must(t, src, "import", rootfsTar(t, 4, 1<<20, 21), "net:1") // a 4 MiB layer that gzip cannot shrink
	id := must(t, src, "image", "inspect", "--format", "{{.Id}}", "net:1")
	must(t, src, "push", "-q", "net:1", reg.Host+"/net/img:1")

	t.Run("pull resumes", func(t *testing.T) {
		dst := t.TempDir()
		px.set(func(p *tcpProxy) { p.resetDown, p.resets, p.sawRange = 1<<20+1000, 0, false })
		must(t, dst, "pull", "-q", px.Host+"/net/img:1")
		if px.resets != 1 || !px.sawRange {
			t.Errorf("resets %d, Range asked %v: the cut was not resumed", px.resets, px.sawRange)
		}
		if got := must(t, dst, "image", "inspect", "--format", "{{.Id}}", px.Host+"/net/img:1"); got != id {
			t.Errorf("pulled %s, pushed %s", got, id)
		}
		fsckOK(t, dst, "a resumed pull")
	})
	t.Run("push restarts", func(t *testing.T) {
		px.set(func(p *tcpProxy) { p.resetUp, p.resets = 1<<20+1000, 0 })
		must(t, src, "push", "-q", "net:1", px.Host+"/net/pushed:1")
		if px.resets != 1 {
			t.Errorf("%d resets", px.resets)
		}
		dst := t.TempDir()
		if got := must(t, dst, "pull", "-q", reg.Host+"/net/pushed:1"); strings.TrimSpace(got) == "" {
			t.Fatal("nothing pulled")
		}
		if got := must(t, dst, "image", "inspect", "--format", "{{.Id}}", reg.Host+"/net/pushed:1"); got != id {
			t.Errorf("pushed through resets: %s, want %s", got, id)
		}
		fsckOK(t, dst, "pull of a restarted push")
	})
	t.Run("wrong bytes", func(t *testing.T) {
		dst := t.TempDir()
		px.set(func(p *tcpProxy) { p.flipAt = 1<<20 + 500 })
		defer px.set(func(p *tcpProxy) { p.flipAt = 0 })
		_, errOut, code := strata(t, dst, "pull", "-q", px.Host+"/net/img:1")
		if code == 0 {
			t.Fatal("a pull of altered bytes succeeded")
		}
		oneErrorLine(t, "altered bytes", errOut, "digest")
		if ids := must(t, dst, "images", "-a", "-q"); ids != "" {
			t.Errorf("images after a refused pull: %s", ids)
		}
		if ents, _ := os.ReadDir(filepath.Join(dst, "blobs", "ingest")); len(ents) > 0 {
			t.Errorf("%d temp blobs left", len(ents))
		}
		fsckOK(t, dst, "a refused pull")
	})
	t.Run("hung registry", func(t *testing.T) {
		px.set(func(p *tcpProxy) { p.hang = true })
		defer px.set(func(p *tcpProxy) { p.hang = false })
		dst := t.TempDir()
		_, errOut, code := strata(t, dst, "pull", "--timeout", "1s", px.Host+"/net/img:1")
		if code == 0 {
			t.Fatal("a pull from a hung registry succeeded")
		}
		oneErrorLine(t, "hung registry", errOut, "did not answer for 1s")
		t.Setenv("STRATA_REGISTRY_TIMEOUT", "1s")
		_, errOut, code = strata(t, src, "push", "net:1", px.Host+"/net/hung:1")
		if code == 0 {
			t.Fatal("a push to a hung registry succeeded")
		}
		oneErrorLine(t, "hung registry, push", errOut, "did not answer for 1s")
	})
}
