package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
)

func TestPickPlatform(t *testing.T) {
	d := func(n int, os, arch, variant string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(n)),
			Platform: &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}}
	}
	idx := &ocispec.Index{Manifests: []ocispec.Descriptor{
		d(0, "linux", "amd64", ""), d(1, "linux", "arm", "v6"), d(2, "linux", "arm", "v7"),
		d(3, "linux", "arm64", "v8"), d(4, "windows", "amd64", ""),
		{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("attestation")}, // no platform
	}}
	for _, c := range []struct {
		want    image.Platform
		pick    int // -1: none
		comment string
	}{
		{image.Platform{OS: "linux", Architecture: "amd64"}, 0, "plain match"},
		{image.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, 2, "variant chooses"},
		{image.Platform{OS: "linux", Architecture: "arm"}, 1, "no variant asked: first of the arch"},
		{image.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, 3, "arm64 default variant"},
		{image.Platform{OS: "linux", Architecture: "arm64"}, 3, "arm64 without variant"},
		{image.Platform{OS: "windows", Architecture: "amd64"}, 4, "other OS"},
		{image.Platform{OS: "linux", Architecture: "s390x"}, -1, "missing"},
		{image.Platform{OS: "linux", Architecture: "arm", Variant: "v5"}, -1, "missing variant"},
	} {
		got, err := PickPlatform(idx, c.want)
		if c.pick < 0 {
			if err == nil || !strings.Contains(err.Error(), "no matching manifest") {
				t.Errorf("%s: got %v, %v", c.comment, got.Digest, err)
			}
			continue
		}
		if err != nil || got.Digest != idx.Manifests[c.pick].Digest {
			t.Errorf("%s: got %v, %v; want entry %d", c.comment, got.Digest, err, c.pick)
		}
	}
}

func TestPlainHTTP(t *testing.T) {
	c, err := New(Options{TLSVerify: true, Insecure: []string{"reg.example:5000", "10.1.0.0/16", "plain.example"}, ConfigFiles: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"localhost:5000":       true,
		"127.0.0.1:5000":       true,
		"127.5.5.5":            true,
		"[::1]:5000":           true,
		"reg.example:5000":     true,
		"reg.example:5001":     false, // listed with another port
		"plain.example:443":    true,  // listed by host
		"10.1.2.3:5000":        true,  // in the CIDR
		"10.2.0.1:5000":        false, // RFC 1918 but not listed: docker says TLS
		"192.168.1.1":          false,
		"registry-1.docker.io": false,
	} {
		if got := c.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%s) = %v, want %v", host, got, want)
		}
	}
}

type recordTransport struct{ urls []string }

func (r *recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return nil, errors.New("recorded")
}

// TestSchemeGuard: plain HTTP that docker's rule does not allow is upgraded
// to TLS, even where go-containerregistry would have used it.
func TestSchemeGuard(t *testing.T) {
	rec := &recordTransport{}
	c, err := New(Options{TLSVerify: true, ConfigFiles: []string{}, Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://10.0.0.1/v2/", "http://127.0.0.1:5000/v2/", "https://example.com/v2/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		c.tr.RoundTrip(req)
	}
	want := []string{"https://10.0.0.1/v2/", "http://127.0.0.1:5000/v2/", "https://example.com/v2/"}
	if strings.Join(rec.urls, " ") != strings.Join(want, " ") {
		t.Errorf("requests went to %v, want %v", rec.urls, want)
	}
}

func TestExplain(t *testing.T) {
	terr := func(code int, diag ...transport.Diagnostic) error {
		return &transport.Error{StatusCode: code, Errors: diag}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{terr(401), "unauthorized"},
		{terr(403), "denied"},
		{terr(404), "not found"},
		{terr(404, transport.Diagnostic{Code: transport.ManifestUnknownErrorCode, Message: "manifest unknown"}), "not found (manifest_unknown)"},
		{terr(429), "too many requests"},
		{terr(503), "the registry failed (503 Service Unavailable)"},
		{terr(400, transport.Diagnostic{Code: "X", Message: "bad thing"}), "bad thing"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "connection refused"},
		{errors.New("http: server gave HTTP response to HTTPS client"), "does not speak TLS"},
		{errors.New("line one\nline two"), "x: line one"},
	} {
		got := Explain(c.err, "x").Error()
		if !strings.Contains(got, c.want) || strings.Contains(got, "\n") {
			t.Errorf("Explain(%v) = %q, want it to say %q on one line", c.err, got, c.want)
		}
	}
}

func TestCheckDocument(t *testing.T) {
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[]}`
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
	ambiguous := `{"schemaVersion":2,"manifests":[],"layers":[]}`
	tagRef, _ := name.ParseReference("example.com/a:b")
	for _, c := range []struct {
		name, doc, declared string
		ref                 name.Reference
		want                string // media type, or error text
	}{
		{"manifest", manifest, ocispec.MediaTypeImageManifest, tagRef, ocispec.MediaTypeImageManifest},
		{"index", index, "", tagRef, ocispec.MediaTypeImageIndex},
		{"served as json", manifest, "application/json", tagRef, ocispec.MediaTypeImageManifest},
		{"ambiguous", ambiguous, "", tagRef, "error: ambiguous"},
		{"declared index, is manifest", manifest, ocispec.MediaTypeImageIndex, tagRef, "error: does not match"},
		{"schema 1", `{"schemaVersion":1,"fsLayers":[]}`, "", tagRef, "error: schema 1"},
		{"not json", `{`, "", tagRef, "error: malformed"},
		{"digest mismatch", manifest, "", mustRef(t, "example.com/a@"+digest.FromString("other").String()), "error: digest mismatch"},
		{"digest match", manifest, "", mustRef(t, "example.com/a@"+digest.FromString(manifest).String()), ocispec.MediaTypeImageManifest},
	} {
		d, err := checkDocument([]byte(c.doc), c.declared, c.ref)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = d.MediaType
			if d.Digest != digest.FromString(c.doc) {
				t.Errorf("%s: digest %s", c.name, d.Digest)
			}
		}
		if !strings.Contains(got, strings.TrimPrefix(c.want, "error: ")) || strings.HasPrefix(c.want, "error: ") != (err != nil) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzCheckDocument: whatever a registry sends, the reader neither panics
// nor accepts a document that is both manifest and index, and what it
// accepts as a manifest or index also parses as one.
func FuzzCheckDocument(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+strings.Repeat("a", 64)+`","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`), "")
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("b", 64)+`","size":2},"layers":[{"digest":"sha256:`+strings.Repeat("c", 64)+`","size":3,"urls":["http://x"]}]}`), image.MediaTypeDockerManifest)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[],"config":{}}`), "")
	ref, _ := name.ParseReference("example.com/a:b")
	f.Fuzz(func(t *testing.T, doc []byte, declared string) {
		d, err := checkDocument(doc, declared, ref)
		if err != nil {
			return
		}
		switch {
		case image.IsIndex(d.MediaType):
			idx, _, err := image.ParseIndex(doc)
			if err != nil {
				return // a malformed descriptor inside: refused later
			}
			PickPlatform(idx, image.HostPlatform())
			if bytes.Contains(doc, []byte(`"layers"`)) && bytes.Contains(doc, []byte(`"manifests"`)) {
				var probe map[string]any
				if jsonOK(doc, &probe) && probe["layers"] != nil && probe["manifests"] != nil {
					t.Fatalf("accepted an ambiguous document as an index: %s", doc)
				}
			}
		case image.IsManifest(d.MediaType):
			image.ParseManifest(doc)
		default:
			t.Fatalf("accepted media type %q", d.MediaType)
		}
	})
}

func TestHumanSizeAndBar(t *testing.T) {
	for n, want := range map[float64]string{0: "0B", 999: "999B", 1000: "1kB", 1234567: "1.23MB", 5e9: "5GB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%v) = %q, want %q", n, got, want)
		}
	}
	b := bar(50, 100, time.Now().Add(-time.Second), 80)
	if !strings.HasPrefix(b, "[") || !strings.Contains(b, "50B/100B") || !strings.Contains(b, "/s") {
		t.Errorf("bar = %q", b)
	}
	var out bytes.Buffer
	p := Bars(&out, 80)
	p.Status("aaa", "Pulling fs layer")
	p.Bytes("aaa", "Downloading", 100, 100)
	p.Status("aaa", "Pull complete")
	p.Close()
	if !strings.Contains(out.String(), "\x1b[1A") || !strings.HasSuffix(out.String(), "aaa: Pull complete\n") {
		t.Errorf("bars drew %q", out.String())
	}
}

func jsonOK(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
