package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// LookupManifest is GetManifest for a document that may not exist yet (a
// build cache's first export): a missing tag or repository is (nil, nil),
// any other failure an error.
func (c *Client) LookupManifest(ctx context.Context, ref name.Reference) (*Document, error) {
	p, err := c.puller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := p.Get(ctx, ref)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, Explain(err, refString(ref))
	}
	return checkDocument(d.Manifest, string(d.MediaType), ref)
}

func isNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, e := range te.Errors {
		if e.Code == transport.ManifestUnknownErrorCode || e.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}
