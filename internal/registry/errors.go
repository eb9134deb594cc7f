package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Explain turns what the transport returns into one line a person
// understands: what went wrong, with which registry, and what to do. what
// names the object (a registry, repository or reference).
func Explain(err error, what string) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if errors.As(err, &te) {
		detail := ""
		if len(te.Errors) > 0 {
			detail = te.Errors[0].Message
			if te.Errors[0].Code == transport.ManifestUnknownErrorCode || te.Errors[0].Code == transport.NameUnknownErrorCode {
				return fmt.Errorf("%s: not found (%s)", what, strings.ToLower(string(te.Errors[0].Code)))
			}
		}
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: unauthorized: authentication required or wrong username/password (run `strata login`)", what)
		case http.StatusForbidden:
			return fmt.Errorf("%s: denied: you are not allowed to access it", what)
		case http.StatusNotFound:
			return fmt.Errorf("%s: not found", what)
		case http.StatusTooManyRequests:
			return fmt.Errorf("%s: too many requests: the registry's rate limit was reached, try again later", what)
		}
		if te.StatusCode >= 500 {
			return fmt.Errorf("%s: the registry failed (%d %s), try again later", what, te.StatusCode, http.StatusText(te.StatusCode))
		}
		if detail != "" {
			return fmt.Errorf("%s: %s", what, detail)
		}
		return fmt.Errorf("%s: registry answered %d %s", what, te.StatusCode, http.StatusText(te.StatusCode))
	}
	var rh tls.RecordHeaderError
	switch {
	case isCertError(err):
		return fmt.Errorf("%s: TLS certificate not accepted (%v); trust its CA in %s/HOST:PORT/ca.crt (or --cert-dir) or use --tls-verify=false", what, firstLine(err), DefaultCertsDir())
	case errors.As(err, &rh), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s: the registry does not speak TLS; list it in insecure-registries (/etc/docker/daemon.json or /etc/strata/config.json) to use plain HTTP", what)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: cannot reach the registry: connection refused", what)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: canceled", what)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("%s: cannot reach the registry: unknown host %s", what, dnsErr.Name)
	}
	var se *stallError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: the registry did not answer for %s (--timeout or STRATA_REGISTRY_TIMEOUT sets how long to wait)", what, se.after)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: the registry did not answer in time", what)
	}
	return fmt.Errorf("%s: %s", what, firstLine(err))
}

// isCertError is a server certificate that was not accepted.
func isCertError(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// mountWatcher notes the blobs a registry mounted from another repository
// (POST ...?mount=D answered 201), so push can say "Mounted from" rather than
// "Pushed"; the upload logic itself stays go-containerregistry's.
type mountWatcher struct {
	next    http.RoundTripper
	mu      sync.Mutex
	mounted map[string]bool
}

func (m *mountWatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated {
		if d := req.URL.Query().Get("mount"); d != "" {
			m.mu.Lock()
			m.mounted[d] = true
			m.mu.Unlock()
		}
	}
	return resp, err
}

func (m *mountWatcher) wasMounted(d string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mounted[d]
}
