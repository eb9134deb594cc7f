package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
)

// openBlob GETs a blob from repo's own blob endpoint and returns its body
// unverified. Every caller checks the bytes against the digest itself (the
// content writer as it stores them, a config's digest, boundedBlob), so
// go-containerregistry's verifying reader would hash every byte of a pull a
// second time: a third of a big pull's CPU.
func (c *Client) openBlob(ctx context.Context, repo name.Repository, d digest.Digest) (io.ReadCloser, error) {
	rt, err := c.repoTransport(ctx, repo)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), d)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	// Redirects (to a CDN or object store) are followed; the token
	// transport sends credentials to the registry's own host only.
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp.Body, nil
}

// repoTransport is an authenticated transport for pulls from repo, made
// once per repository so that a pull of many blobs asks for its token once.
func (c *Client) repoTransport(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	key := repo.Name()
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if rt, ok := c.blobTransports[key]; ok {
		return rt, nil
	}
	auth, err := authn.Resolve(ctx, c.opts.Keychain, repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, transport.NewUserAgent(c.tr, c.userAgent()), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	if c.blobTransports == nil {
		c.blobTransports = map[string]http.RoundTripper{}
	}
	c.blobTransports[key] = rt
	return rt, nil
}
