// Package registrytest starts a real distribution registry (Debian's
// docker-registry) for tests, on 127.0.0.1 with its storage in a temporary
// directory, optionally behind basic auth, and puts a proxy in front of it
// that counts what crosses the wire and can cut or alter blob downloads.
package registrytest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is the registry the tests run (apt-get install docker-registry).
const Binary = "/usr/bin/docker-registry"

// Registry is a running registry.
type Registry struct {
	Host string // 127.0.0.1:PORT of the registry itself
	Dir  string // its storage
}

// Options for Start.
type Options struct {
	User, Password string // basic auth (htpasswd) when User is set
	// TLS, when set, makes the registry speak HTTPS with a server
	// certificate for 127.0.0.1 signed by this CA.
	TLS *CA
	// ClientCA, with TLS, makes the registry require client certificates
	// signed by it.
	ClientCA *CA
}

// FreePort returns a port nothing listens on (for a moment).
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs a registry until the test ends; it skips the test when the
// binary is missing.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("%s not installed (apt-get install docker-registry)", Binary)
	}
	dir := t.TempDir()
	auth := ""
	if o.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htp := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htp, []byte(o.User+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: strata-test\n    path: %s\n", htp)
	}
	tlsCfg := ""
	if o.TLS != nil {
		cert, key := o.TLS.Issue(t, dir, "server", ".crt", "127.0.0.1", "localhost")
		tlsCfg = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
		if o.ClientCA != nil {
			ca := filepath.Join(dir, "client-ca.crt")
			o.ClientCA.WriteCA(t, ca)
			tlsCfg += fmt.Sprintf("    clientcas:\n      - %s\n", ca)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		host := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s%s`, filepath.Join(dir, "data"), host, tlsCfg, auth)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(filepath.Join(dir, "registry.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(Binary, "serve", cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		// The registry reads REGISTRY_* variables as configuration
		// (REGISTRY_AUTH_FILE, podman's, would become auth.file).
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "REGISTRY_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait(); logf.Close() }()
		if lastErr = waitUp(host, o.TLS != nil, exited); lastErr == nil {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return &Registry{Host: host, Dir: dir}
		}
		cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	t.Fatalf("registry did not start: %v\n%s", lastErr, log)
	return nil
}

// waitUp waits for the registry to answer (with TLS, to accept
// connections: it may want a client certificate before it answers).
func waitUp(host string, tls bool, exited chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("registry exited: %v", err)
		default:
		}
		if tls {
			if c, err := net.Dial("tcp", host); err == nil {
				c.Close()
				return nil
			}
		} else if resp, err := http.Get("http://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("registry on %s did not answer", host)
}

// Proxy is a reverse proxy in front of a registry that counts requests and
// bytes, and can break blob downloads.
type Proxy struct {
	Host string

	mu       sync.Mutex
	requests []Request
	// CutAfter, when > 0, cuts the connection of the next blob GET after
	// that many body bytes (once).
	cutAfter int64
	// corrupt, when set, flips a byte in every blob GET.
	corrupt bool
}

// Request is one request that went through the proxy.
type Request struct {
	Method, Path string
	Range        string // the Range header, if any
	Status       int
	Sent         int64 // request body bytes (uploads)
	Received     int64 // response body bytes (downloads)
}

// NewProxy starts a proxy to target until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &Request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range")}
		if r.Body != nil {
			r.Body = &countReader{rc: r.Body, n: &rec.Sent}
		}
		isBlobGet := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
		cw := &countWriter{ResponseWriter: w, rec: rec}
		if isBlobGet {
			cw.proxy = p
		}
		defer func() {
			p.mu.Lock()
			p.requests = append(p.requests, *rec)
			p.mu.Unlock()
		}()
		rp.ServeHTTP(cw, r)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	p.Host = l.Addr().String()
	return p
}

// CutNextBlob makes the next blob download stop after n bytes.
func (p *Proxy) CutNextBlob(n int64) {
	p.mu.Lock()
	p.cutAfter = n
	p.mu.Unlock()
}

// Corrupt makes blob downloads carry one wrong byte.
func (p *Proxy) Corrupt(on bool) {
	p.mu.Lock()
	p.corrupt = on
	p.mu.Unlock()
}

// Reset forgets the requests seen.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.requests = nil
	p.mu.Unlock()
}

// Requests returns what went through so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request{}, p.requests...)
}

// Uploaded is the request body bytes sent to blob upload endpoints.
func (p *Proxy) Uploaded() int64 {
	var n int64
	for _, r := range p.Requests() {
		if strings.Contains(r.Path, "/blobs/uploads/") {
			n += r.Sent
		}
	}
	return n
}

// Downloaded is the response bytes of blob GETs.
func (p *Proxy) Downloaded() int64 {
	var n int64
	for _, r := range p.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, "/blobs/sha256:") {
			n += r.Received
		}
	}
	return n
}

// BlobGets lists the digests of the blobs downloaded.
func (p *Proxy) BlobGets() []string {
	var out []string
	for _, r := range p.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, "/blobs/sha256:") {
			out = append(out, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	return out
}

type countReader struct {
	rc io.ReadCloser
	n  *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	*c.n += int64(n)
	return n, err
}
func (c *countReader) Close() error { return c.rc.Close() }

type countWriter struct {
	http.ResponseWriter
	rec     *Request
	proxy   *Proxy // set for blob downloads, which it may break
	flipped bool
}

func (c *countWriter) WriteHeader(code int) {
	c.rec.Status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.proxy != nil && c.rec.Status == http.StatusOK && len(b) > 0 {
		p := c.proxy
		p.mu.Lock()
		corrupt := p.corrupt && !c.flipped
		cut := p.cutAfter > 0 && c.rec.Received+int64(len(b)) >= p.cutAfter
		keep := p.cutAfter - c.rec.Received
		if cut {
			p.cutAfter = 0 // once: the retry must get through
		}
		p.mu.Unlock()
		if corrupt {
			b = bytes.Clone(b)
			b[len(b)/2] ^= 0xff
			c.flipped = true
		}
		if cut {
			n, _ := c.ResponseWriter.Write(b[:keep])
			c.rec.Received += int64(n)
			// Abort the response mid-body: the server closes the
			// connection and the client sees a body shorter than its
			// Content-Length.
			if f, ok := c.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			panic(http.ErrAbortHandler)
		}
	}
	n, err := c.ResponseWriter.Write(b)
	c.rec.Received += int64(n)
	return n, err
}

func (c *countWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
