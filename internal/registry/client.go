// Package registry moves images between the store and registries (the
// distribution API), on google/go-containerregistry's remote package: its
// transport does the token flow, retries, chunked upload and cross-repository
// mount, and this package decides what to move.
//
// The rules it keeps:
//   - nothing is sent that the registry has (HEAD or mount first) and nothing
//     is fetched that the store has (blob + layer record);
//   - blobs stream from the network straight into the content store with
//     their digest and size checked on the way (a layer through layer.Ingest,
//     so its diffID is computed in the same pass);
//   - an image becomes visible only in store.AddImage, after every blob is
//     verified, so an interrupted pull leaves nothing but verified blobs a
//     retry reuses (and the next gc removes if nobody retries);
//   - documents are read bounded and refused when ambiguous (both manifest
//     and index, CVE-2021-41190) or when their digest does not match;
//   - foreign-layer URLs are never followed.
//
// The building blocks (Client.FetchBlobs, Client.UploadBlobs,
// Client.PutManifest, Client.GetManifest) are what an image pull or push is
// made of, and what a build-cache export or import through a registry is
// made of too: a cache manifest is a manifest of layer blobs plus a config
// blob of cache records.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-dev/strata/internal/image"
)

// Options configure a Client.
type Options struct {
	// TLSVerify false accepts any certificate (--tls-verify=false).
	TLSVerify bool
	// Insecure lists extra registries (host, host:port or CIDR) spoken to in
	// plain HTTP, on top of those in the config files.
	Insecure []string
	// ConfigFiles are JSON files whose "insecure-registries" list is read
	// (docker's daemon.json rule). Nil means DefaultConfigFiles().
	ConfigFiles []string
	// MaxConcurrent is the number of blobs moved at once (default 3).
	MaxConcurrent int
	// Keychain finds credentials (default: docker's config.json, see Keychain).
	Keychain authn.Keychain
	// Progress receives per-layer events (default: none).
	Progress Progress
	// UserAgent is sent to registries.
	UserAgent string
	// Transport is the base HTTP transport (tests put a proxy in front); nil
	// means a clone of remote.DefaultTransport with the TLS settings of
	// CertsDir.
	Transport http.RoundTripper
	// CertsDir holds per-registry CAs and client certificates in docker's
	// layout (see certsTransport); "" means DefaultCertsDir().
	CertsDir string
	// Timeout is how long a registry may make no progress before a request
	// fails; 0 means DefaultTimeout().
	Timeout time.Duration
}

// DefaultConfigFiles are where the insecure-registries list is read: docker's
// daemon.json (so a machine set up for docker works as is) and strata's own,
// $STRATA_CONFIG or /etc/strata/config.json.
func DefaultConfigFiles() []string {
	own := os.Getenv("STRATA_CONFIG")
	if own == "" {
		own = "/etc/strata/config.json"
	}
	return []string{"/etc/docker/daemon.json", own}
}

// Client talks to registries for one command.
type Client struct {
	opts     Options
	insecure []string
	tr       http.RoundTripper
	mounts   *mountWatcher

	pmu  sync.Mutex
	pull *remote.Puller // shared so that a token is fetched once per repository
	// blobTransports are openBlob's authenticated transports, by repository.
	blobTransports map[string]http.RoundTripper
	push           *remote.Pusher
}

// New makes a client.
func New(o Options) (*Client, error) {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 3
	}
	if o.Keychain == nil {
		o.Keychain = Keychain()
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	if o.ConfigFiles == nil {
		o.ConfigFiles = DefaultConfigFiles()
	}
	if o.CertsDir == "" {
		o.CertsDir = DefaultCertsDir()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout()
	}
	c := &Client{opts: o, insecure: append([]string{}, o.Insecure...)}
	for _, f := range o.ConfigFiles {
		l, err := readInsecure(f)
		if err != nil {
			return nil, err
		}
		c.insecure = append(c.insecure, l...)
	}
	base := o.Transport
	if base == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		// Registries on this machine answer fast; the default's idle pool of
		// 2 per host would reopen connections between parallel blobs.
		t.MaxIdleConnsPerHost = 16
		if t.TLSHandshakeTimeout > o.Timeout {
			t.TLSHandshakeTimeout = o.Timeout
		}
		base = newCertsTransport(o.CertsDir, o.TLSVerify, t)
	}
	// From the bottom: TLS per registry, plain HTTP only where allowed, no
	// request without progress for longer than Timeout, cut blob downloads
	// resumed, mounts noted.
	guard := &schemeGuard{next: base, plain: c.plainHTTP}
	if ct, ok := base.(*certsTransport); ok {
		guard.tlsFailure = ct.tlsFailure
	}
	var tr http.RoundTripper = guard
	tr = &watchdog{next: tr, after: o.Timeout}
	tr = &resumer{next: tr}
	c.mounts = &mountWatcher{next: tr, mounted: map[string]bool{}}
	c.tr = c.mounts
	return c, nil
}

func readInsecure(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Insecure []string `json:"insecure-registries"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return cfg.Insecure, nil
}

// plainHTTP is docker's rule: plain HTTP is allowed for loopback registries
// and for those listed as insecure (by host, host:port or CIDR); everything
// else speaks TLS.
func (c *Client) plainHTTP(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, e := range c.insecure {
		if e == hostport || e == host {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// schemeGuard upgrades to TLS the plain-HTTP requests that docker's rule does
// not allow: go-containerregistry also speaks plain HTTP to private
// (RFC 1918) addresses, which docker does not.
type schemeGuard struct {
	next       http.RoundTripper
	plain      func(hostport string) bool
	tlsFailure func(hostport string) error // nil: not known
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plain(req.URL.Host) {
		r2 := req.Clone(req.Context())
		r2.URL.Scheme = "https"
		return g.next.RoundTrip(r2)
	}
	resp, err := g.next.RoundTrip(req)
	if err == nil && req.URL.Scheme == "http" && resp.StatusCode == http.StatusBadRequest && g.tlsFailure != nil {
		// A TLS-only registry answers plain HTTP with 400: the reason to
		// give is why HTTPS was refused.
		if terr := g.tlsFailure(req.URL.Host); terr != nil {
			resp.Body.Close()
			return nil, terr
		}
	}
	return resp, err
}

// Ref turns a user's image name into the registry's: docker's defaults
// (docker.io/library, :latest) and, for an insecure registry, permission to
// fall back to plain HTTP.
func (c *Client) Ref(s string) (name.Reference, image.Reference, error) {
	r, err := image.ParseReference(s)
	if err != nil {
		return nil, r, err
	}
	nr, err := name.ParseReference(r.String(), c.nameOpts(r.Domain())...)
	if err != nil {
		return nil, r, fmt.Errorf("invalid reference format %q: %v", s, err)
	}
	return nr, r, nil
}

func (c *Client) nameOpts(domain string) []name.Option {
	opts := []name.Option{name.StrictValidation}
	if c.plainHTTP(domain) {
		opts = append(opts, name.Insecure)
	}
	return opts
}

// Registry names a registry host for login/logout.
func (c *Client) Registry(host string) (name.Registry, error) {
	return name.NewRegistry(host, c.nameOpts(host)...)
}

func (c *Client) userAgent() string {
	if c.opts.UserAgent == "" {
		return "strata"
	}
	return c.opts.UserAgent
}

func (c *Client) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.tr),
		remote.WithAuthFromKeychain(c.opts.Keychain),
		remote.WithUserAgent(c.userAgent()),
		remote.WithJobs(c.opts.MaxConcurrent),
	}
}
