package registry

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// blobServer serves one blob at /v2/r/blobs/sha256:x, cutting the
// connection of the first cuts responses after cutAt bytes; with
// ignoreRange it answers every request with the whole blob.
type blobServer struct {
	blob        []byte
	cutAt       int
	cuts        int
	ignoreRange bool

	mu     sync.Mutex
	ranges []string
}

func (s *blobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut := s.cuts > 0
	if cut {
		s.cuts--
	}
	s.mu.Unlock()
	if s.ignoreRange {
		r.Header.Del("Range")
	}
	if !cut {
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(s.blob))
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(s.blob)))
	w.WriteHeader(http.StatusOK)
	w.Write(s.blob[:s.cutAt])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // the connection dies mid-body
}

func newTestClient(t *testing.T, o Options) *Client {
	t.Helper()
	o.ConfigFiles = []string{}
	if o.CertsDir == "" {
		o.CertsDir = t.TempDir()
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(c *Client, url string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: c.tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestResumeCutDownload: a blob download cut mid-body continues with a
// Range request from the byte where it stopped (or, from a registry that
// ignores Range, restarts and skips what came), and the reader sees the
// whole blob once; a connection cut too often fails with one line.
func TestResumeCutDownload(t *testing.T) {
	blob := make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(blob)
	for _, c := range []struct {
		name        string
		cuts        int
		ignoreRange bool
		wantRanges  []string
		wantErr     string
	}{
		{name: "one cut", cuts: 1, wantRanges: []string{"", "bytes=1000000-"}},
		{name: "two cuts", cuts: 2, wantRanges: []string{"", "bytes=1000000-", "bytes=1000000-"}},
		{name: "no range support", cuts: 1, ignoreRange: true, wantRanges: []string{"", "bytes=1000000-"}},
		{name: "cut every time", cuts: 100, wantErr: "connection cut at byte 1000000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &blobServer{blob: blob, cutAt: 1000000, cuts: c.cuts, ignoreRange: c.ignoreRange}
			srv := httptest.NewServer(s)
			defer srv.Close()
			cl := newTestClient(t, Options{TLSVerify: true})
			got, err := get(cl, srv.URL+"/v2/r/blobs/sha256:x")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, blob) {
				t.Fatalf("got %d bytes, not the blob", len(got))
			}
			if strings.Join(s.ranges, ",") != strings.Join(c.wantRanges, ",") {
				t.Errorf("requests had ranges %q, want %q", s.ranges, c.wantRanges)
			}
		})
	}
}

// TestNoResumeOfOtherGets: only blobs are resumed (a manifest is fetched
// again whole by the retrying layers above).
func TestNoResumeOfOtherGets(t *testing.T) {
	s := &blobServer{blob: bytes.Repeat([]byte("m"), 2<<20), cutAt: 1000, cuts: 1}
	srv := httptest.NewServer(s)
	defer srv.Close()
	if _, err := get(newTestClient(t, Options{TLSVerify: true}), srv.URL+"/v2/r/manifests/latest"); err == nil {
		t.Fatal("a cut manifest read succeeded")
	}
	if len(s.ranges) != 1 {
		t.Errorf("%d requests, want 1", len(s.ranges))
	}
}

// TestStalledRegistry: a registry that accepts and never answers, or stops
// in the middle of a body, fails the request after the timeout with
// Explain's "did not answer" line.
func TestStalledRegistry(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "body") {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		<-release
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handlers
	cl := newTestClient(t, Options{TLSVerify: true, Timeout: 300 * time.Millisecond})
	for _, path := range []string{"/v2/", "/v2/r/blobs/body"} {
		_, err := get(cl, srv.URL+path)
		var se *stallError
		if !errors.As(err, &se) {
			t.Fatalf("%s: got %v, want a stall", path, err)
		}
		if msg := Explain(err, "x").Error(); !strings.Contains(msg, "did not answer for 300ms") {
			t.Errorf("%s: %q", path, msg)
		}
	}
}

// TestCertsDir: a registry whose certificate a private CA signed is refused
// until the CA is in certs.d/HOST:PORT/ca.crt, or with TLSVerify false; one
// that wants a client certificate gets client.cert/client.key from there.
func TestCertsDir(t *testing.T) {
	ca := registrytest.NewCA(t, "test CA")
	dir := t.TempDir()
	cert, key := ca.Issue(t, dir, "server", ".crt", "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, needClient := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		if needClient {
			srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, pool
		}
		srv.StartTLS()
		host := srv.Listener.Addr().String()
		certs := t.TempDir()
		try := func(verify bool) error {
			_, err := get(newTestClient(t, Options{TLSVerify: verify, CertsDir: certs}), "https://"+host+"/v2/")
			return err
		}
		if err := try(true); err == nil || !strings.Contains(Explain(err, "r").Error(), "TLS certificate not accepted") && !needClient {
			t.Errorf("client cert %v: without the CA: %v", needClient, err)
		}
		ca.WriteCA(t, filepath.Join(certs, host, "ca.crt"))
		if needClient {
			if err := try(true); err == nil {
				t.Error("a registry that wants a client certificate accepted none")
			}
			ca.Issue(t, filepath.Join(certs, host), "client", ".cert")
		}
		if err := try(true); err != nil {
			t.Errorf("client cert %v: with the CA in certs.d: %v", needClient, err)
		}
		if !needClient {
			os.RemoveAll(filepath.Join(certs, host))
			if err := try(false); err != nil {
				t.Errorf("--tls-verify=false: %v", err)
			}
		}
		srv.Close()
	}
}

// TestCertsDirErrors: a client certificate without its key is an error
// that names the file.
func TestCertsDirErrors(t *testing.T) {
	certs := t.TempDir()
	ca := registrytest.NewCA(t, "ca")
	_, key := ca.Issue(t, filepath.Join(certs, "reg.example:5000"), "client", ".cert")
	os.Remove(key)
	_, err := hostTLSConfig(certs, "reg.example:5000", true)
	if err == nil || !strings.Contains(err.Error(), "has no key client.key") {
		t.Errorf("got %v", err)
	}
	if cfg, err := hostTLSConfig(certs, "other.example", true); cfg != nil || err != nil {
		t.Errorf("a registry without a directory: %v, %v", cfg, err)
	}
	if got := certsDirNames("reg.example:443"); strings.Join(got, " ") != "reg.example:443 reg.example" {
		t.Errorf("names for :443: %v", got)
	}
}

func TestParseContentRange(t *testing.T) {
	for s, want := range map[string][3]int64{
		"bytes 100-199/200": {100, 200, 1},
		"bytes 0-0/*":       {0, -1, 1},
		"bytes */200":       {0, 0, 0},
		"items 1-2/3":       {0, 0, 0},
		"bytes -5-10/20":    {0, 0, 0},
	} {
		start, total, ok := parseContentRange(s)
		if ok != (want[2] == 1) || ok && (start != want[0] || total != want[1]) {
			t.Errorf("%q: %d %d %v", s, start, total, ok)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 100-199/200")
	f.Add("bytes 0-0/*")
	f.Fuzz(func(t *testing.T, s string) {
		start, _, ok := parseContentRange(s)
		if ok && start < 0 {
			t.Fatalf("%q: negative start", s)
		}
	})
}
