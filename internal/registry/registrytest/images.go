package registrytest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PutImage puts an image for platform ("linux/arm64", "linux/arm/v7") in
// repo under tag ("" for none) through the distribution API, from layer
// tars (sent gzip-compressed), and returns its manifest's descriptor with
// the platform set, for an index (PutIndex). The same arguments make the
// same image.
func (r *Registry) PutImage(t testing.TB, repo, tag, platform string, layers ...[]byte) ocispec.Descriptor {
	t.Helper()
	parts := strings.SplitN(platform, "/", 3)
	if len(parts) < 2 {
		t.Fatalf("PutImage: platform %q: want OS/ARCH[/VARIANT]", platform)
	}
	p := &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := ocispec.Image{Created: &created, Platform: *p, RootFS: ocispec.RootFS{Type: "layers"},
		Config: ocispec.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest}
	for i, l := range layers {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(l)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l))
		cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: fmt.Sprintf("layer %d", i)})
		m.Layers = append(m.Layers, r.putBlob(t, repo, ocispec.MediaTypeImageLayerGzip, gz.Bytes()))
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Config = r.putBlob(t, repo, ocispec.MediaTypeImageConfig, cb)
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(mb)
	ref := d.String()
	if tag != "" {
		ref = tag
	}
	r.putManifest(t, repo, ref, m.MediaType, mb)
	return ocispec.Descriptor{MediaType: m.MediaType, Digest: d, Size: int64(len(mb)), Platform: p}
}

// PutIndex puts an OCI index of manifests (from PutImage, in the same
// repo) under tag and returns its digest.
func (r *Registry) PutIndex(t testing.TB, repo, tag string, manifests ...ocispec.Descriptor) digest.Digest {
	t.Helper()
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	r.putManifest(t, repo, tag, idx.MediaType, b)
	return digest.FromBytes(b)
}

// putBlob uploads a blob in one piece (POST, then PUT with the digest).
func (r *Registry) putBlob(t testing.TB, repo, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := digest.FromBytes(b)
	resp, err := http.Post("http://"+r.Host+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("blob upload to %s: %s", repo, resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "http", Host: r.Host}).ResolveReference(loc)
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	r.do(t, http.MethodPut, u.String(), "application/octet-stream", b, http.StatusCreated)
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

func (r *Registry) putManifest(t testing.TB, repo, ref, mediaType string, b []byte) {
	t.Helper()
	r.do(t, http.MethodPut, "http://"+r.Host+"/v2/"+repo+"/manifests/"+ref, mediaType, b, http.StatusCreated)
}

func (r *Registry) do(t testing.TB, method, u, contentType string, body []byte, want int) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		t.Fatalf("%s %s: %s %s", method, u, resp.Status, msg)
	}
}
