package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// DefaultCertsDir is where per-registry certificates are read: docker's
// /etc/docker/certs.d, or $STRATA_CERTS_DIR.
func DefaultCertsDir() string {
	if d := os.Getenv("STRATA_CERTS_DIR"); d != "" {
		return d
	}
	return "/etc/docker/certs.d"
}

// certsTransport gives each registry the TLS settings of its directory in
// certs.d, as docker does: DIR/HOST:PORT (or DIR/HOST for port 443) holds
// CA certificates (*.crt, trusted on top of the system's) and client
// certificates (NAME.cert with its key NAME.key). A registry without a
// directory uses the system's CAs alone.
type certsTransport struct {
	dir    string
	verify bool
	base   *http.Transport

	mu        sync.Mutex
	byHost    map[string]*http.Transport
	failed    map[string]error // the last certificate refusal per host
	certAsked map[string]bool  // the host asked for a client certificate strata had not
}

func newCertsTransport(dir string, verify bool, base *http.Transport) *certsTransport {
	ct := &certsTransport{dir: dir, verify: verify, base: base, byHost: map[string]*http.Transport{}, failed: map[string]error{}, certAsked: map[string]bool{}}
	if !verify {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	return ct
}

func (c *certsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return c.base.RoundTrip(req)
	}
	t, err := c.forHost(req.URL.Host)
	if err != nil {
		return nil, err
	}
	resp, err := t.RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	host := req.URL.Host
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.certAsked[host]:
		// With TLS 1.3 the server refuses a missing client certificate
		// after the handshake: its alert ("remote error: tls: certificate
		// required") or, when its close overtakes the alert, a reset or
		// an EOF. Either way the reason is known, from the handshake.
		err = fmt.Errorf("the registry asks for a client certificate and %s has none it accepts (NAME.cert with NAME.key): %w", filepath.Join(c.dir, host), err)
		c.failed[host] = err
	case isCertError(err) || strings.Contains(err.Error(), "tls: "):
		c.failed[host] = err
	}
	return resp, err
}

// tlsFailure is the TLS failure (a certificate refused, a handshake
// failed) of host's last HTTPS request, if any: a loopback registry is also
// tried in plain HTTP, and when it speaks only TLS that answer (400) must
// not hide why HTTPS failed.
func (c *certsTransport) tlsFailure(host string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed[host]
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach every
// per-host transport.
func (c *certsTransport) CloseIdleConnections() {
	c.base.CloseIdleConnections()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.byHost {
		t.CloseIdleConnections()
	}
}

func (c *certsTransport) forHost(hostport string) (*http.Transport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.byHost[hostport]; ok {
		return t, nil
	}
	cfg, err := hostTLSConfig(c.dir, hostport, c.verify)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		if cfg = c.base.TLSClientConfig.Clone(); cfg == nil {
			cfg = &tls.Config{}
		}
	}
	// The client certificate is chosen as crypto/tls chooses it (the
	// first the server's request accepts); a request none answers is
	// noted, so that the failure that follows can say why.
	certs := cfg.Certificates
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		c.mu.Lock()
		c.certAsked[hostport] = true
		c.mu.Unlock()
		return &tls.Certificate{}, nil
	}
	t := c.base.Clone()
	t.TLSClientConfig = cfg
	c.byHost[hostport] = t
	return t, nil
}

// hostTLSConfig reads the certs.d directory of hostport; nil when there is
// none.
func hostTLSConfig(dir, hostport string, verify bool) (*tls.Config, error) {
	hostDir := ""
	for _, name := range certsDirNames(hostport) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			hostDir = p
			break
		}
	}
	if hostDir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(hostDir)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{InsecureSkipVerify: !verify} //nolint:gosec // only with --tls-verify=false
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(hostDir, n)
		switch {
		case strings.HasSuffix(n, ".crt"):
			if cfg.RootCAs == nil {
				if cfg.RootCAs, err = x509.SystemCertPool(); err != nil {
					cfg.RootCAs = x509.NewCertPool()
				}
			}
			pem, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificate in it", p)
			}
		case strings.HasSuffix(n, ".cert"):
			key := strings.TrimSuffix(p, ".cert") + ".key"
			pair, err := tls.LoadX509KeyPair(p, key)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("client certificate %s has no key %s", p, filepath.Base(key))
			}
			if err != nil {
				return nil, fmt.Errorf("client certificate %s: %v", p, err)
			}
			cfg.Certificates = append(cfg.Certificates, pair)
		case strings.HasSuffix(n, ".key"):
			if _, err := os.Stat(strings.TrimSuffix(p, ".key") + ".cert"); err != nil {
				return nil, fmt.Errorf("key %s has no client certificate %s", p, strings.TrimSuffix(n, ".key")+".cert")
			}
		}
	}
	return cfg, nil
}

// certsDirNames are the directory names docker looks for: the registry as
// written (host:port), and the bare host for HTTPS's own port.
func certsDirNames(hostport string) []string {
	names := []string{hostport}
	if h, p, err := net.SplitHostPort(hostport); err == nil && p == "443" {
		names = append(names, h)
	} else if err != nil {
		names = append(names, hostport+":443")
	}
	return names
}
