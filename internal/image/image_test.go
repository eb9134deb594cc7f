package image

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestParseReference(t *testing.T) {
	cases := []struct{ in, full, familiar, tag, err string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest", "latest", ""},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "1.36", ""},
		{"library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "latest", ""},
		{"user/app:v1", "docker.io/user/app:v1", "user/app:v1", "v1", ""},
		{"localhost:5000/busybox", "localhost:5000/busybox:latest", "localhost:5000/busybox:latest", "latest", ""},
		{"busybox@sha256:" + strings.Repeat("a", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64), "busybox@sha256:" + strings.Repeat("a", 64), "", ""},
		{"", "", "", "", "empty"},
		{"UPPER", "", "", "", "lowercase"},
		{"a:b:c", "", "", "", "invalid reference"},
	}
	for _, c := range cases {
		r, err := ParseReference(c.in)
		if c.err != "" {
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseReference(%q) err = %v, want an invalid argument %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || r.String() != c.full || r.Familiar() != c.familiar || r.Tag() != c.tag {
			t.Errorf("ParseReference(%q) = %q %q %q %v", c.in, r.String(), r.Familiar(), r.Tag(), err)
		}
	}
}

func TestDetectMediaType(t *testing.T) {
	d := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}`
	cases := []struct{ name, doc, declared, want, err string }{
		{"oci manifest", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + d + `,"layers":[]}`, "", "application/vnd.oci.image.manifest.v1+json", ""},
		{"manifest without mediaType", `{"schemaVersion":2,"config":` + d + `,"layers":[]}`, "", "application/vnd.oci.image.manifest.v1+json", ""},
		{"docker manifest", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":` + d + `,"layers":[]}`, "", MediaTypeDockerManifest, ""},
		{"index", `{"schemaVersion":2,"manifests":[]}`, "", "application/vnd.oci.image.index.v1+json", ""},
		{"both (CVE-2021-41190)", `{"schemaVersion":2,"manifests":[],"layers":[]}`, "", "", "ambiguous"},
		{"declared mismatch", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, "application/vnd.oci.image.manifest.v1+json", "", "does not match"},
		{"index typed as manifest", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`, "", "", "unsupported"},
		{"schema 1", `{"schemaVersion":1,"fsLayers":[]}`, "", "", "schema 1"},
		{"not json", `{`, "", "", "malformed"},
	}
	for _, c := range cases {
		got, err := DetectMediaType([]byte(c.doc), c.declared)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: = %q %v, want %q", c.name, got, err, c.want)
		}
	}
}

func TestParseManifestChecksDescriptors(t *testing.T) {
	for _, bad := range []string{
		`{"schemaVersion":2,"config":{"digest":"sha256:zz","size":1},"layers":[]}`,
		`{"schemaVersion":2,"config":{"digest":"sha512:` + strings.Repeat("a", 128) + `","size":1},"layers":[]}`,
		`{"schemaVersion":2,"config":{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":-1},"layers":[]}`,
	} {
		if _, _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("ParseManifest accepted %s", bad)
		}
	}
}

func TestChainID(t *testing.T) {
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	ab := digest.FromString(a.String() + " " + b.String())
	abc := digest.FromString(ab.String() + " " + c.String())
	if got := ChainID([]digest.Digest{a}); got != a {
		t.Errorf("ChainID(a) = %s", got)
	}
	if got := ChainID([]digest.Digest{a, b, c}); got != abc {
		t.Errorf("ChainID(a,b,c) = %s, want %s", got, abc)
	}
	ids := ChainIDs([]digest.Digest{a, b, c})
	if ids[0] != a || ids[1] != ab || ids[2] != abc {
		t.Errorf("ChainIDs = %v", ids)
	}
}

func FuzzParseManifest(f *testing.F) {
	d := `{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}`
	f.Add([]byte(`{"schemaVersion":2,"config":` + d + `,"layers":[` + d + `]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[` + d + `]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[],"layers":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		mt, err := DetectMediaType(b, "")
		if err != nil {
			return
		}
		if IsManifest(mt) {
			if m, _, err := ParseManifest(b); err == nil && m.Config.Digest.Validate() != nil {
				t.Fatal("accepted a manifest with an invalid config digest")
			}
		} else if IsIndex(mt) {
			if idx, _, err := ParseIndex(b); err == nil {
				for _, m := range idx.Manifests {
					if m.Digest.Validate() != nil {
						t.Fatal("accepted an index with an invalid digest")
					}
				}
			}
		} else {
			t.Fatalf("DetectMediaType returned %q without error", mt)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("a", 64) + `"]},"config":{"Env":["A=b"],"Healthcheck":{"Test":["NONE"]}}}`))
	f.Add([]byte(`{"rootfs":{"type":"layers"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfigFile(b)
		if err != nil {
			return
		}
		for _, d := range c.RootFS.DiffIDs {
			if d.Validate() != nil {
				t.Fatal("accepted an invalid diff_id")
			}
		}
	})
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "localhost:5000/a/b:c", "a@sha256:" + strings.Repeat("0", 64), "UP", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		// A normalized reference parses to itself.
		r2, err := ParseReference(r.String())
		if err != nil || r2.String() != r.String() {
			t.Fatalf("%q -> %q -> %q %v", s, r.String(), r2.String(), err)
		}
	})
}

func TestMergeNames(t *testing.T) {
	tests := []struct{ a, b, want []string }{
		{nil, nil, nil},
		{[]string{"x"}, nil, []string{"x"}},
		{[]string{"x", "y"}, []string{"y", "z", "x"}, []string{"x", "y", "z"}},
		{[]string{"x", "x"}, []string{"z"}, []string{"x", "z"}},
	}
	for _, tc := range tests {
		if got := MergeNames(tc.a, tc.b); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("MergeNames(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
