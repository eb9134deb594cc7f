package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestPullPlatform: an index gives the platform's manifest; a single image
// for another platform is taken by a plain pull but refused by a strict
// one (a build's) before anything is stored; NoName keeps the name free.
func TestPullPlatform(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t, registrytest.Options{})
	layer := func(p string) []byte {
		return testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/platform", Body: p + "\n"})
	}
	amd := reg.PutImage(t, "multi", "", "linux/amd64", layer("linux/amd64"))
	arm := reg.PutImage(t, "multi", "", "linux/arm64/v8", layer("linux/arm64/v8"))
	armv7 := reg.PutImage(t, "multi", "", "linux/arm/v7", layer("linux/arm/v7"))
	reg.PutIndex(t, "multi", "1", amd, arm, armv7)
	reg.PutImage(t, "single", "1", "linux/amd64", layer("linux/amd64"))
	multi, single := reg.Host+"/multi:1", reg.Host+"/single:1"

	for _, c := range []struct {
		name     string
		ref      string
		o        PullOptions
		manifest digest.Digest // "" with wantErr
		wantErr  string
		named    bool
	}{
		{"index amd64", multi, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "amd64"}, Strict: true}, amd.Digest, "", true},
		{"index arm64", multi, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "arm64"}, Strict: true}, arm.Digest, "", true},
		{"index arm64/v8", multi, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}, arm.Digest, "", true},
		{"index arm/v7, unnamed", multi, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, NoName: true}, armv7.Digest, "", false},
		{"index lacks s390x", multi, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "s390x"}, Strict: true}, "", "/multi:1: no matching manifest for linux/s390x in the manifest list entries (it has: [linux/amd64 linux/arm/v7 linux/arm64/v8])", false},
		{"single, own platform", single, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "amd64"}, Strict: true}, "", "", true},
		{"single, other platform, plain pull", single, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "arm64"}}, "", "", true},
		{"single, other platform, strict", single, PullOptions{Platform: image.Platform{OS: "linux", Architecture: "arm64"}, Strict: true}, "", "/single:1: no match for platform in manifest: want linux/arm64, the image is linux/amd64", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			cl, err := New(Options{TLSVerify: true, ConfigFiles: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := cl.PullWith(context.Background(), st, c.ref, c.o)
			if c.wantErr != "" {
				var pe *PlatformError
				if !errors.As(err, &pe) || !strings.HasSuffix(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want a PlatformError ending %q", err, c.wantErr)
				}
				// Refused before anything was stored.
				imgs, _ := st.Images()
				blobs := 0
				st.Content.Walk(func(digest.Digest, int64) error { blobs++; return nil })
				if len(imgs) != 0 || blobs != 0 {
					t.Errorf("after the refusal the store has %d images, %d blobs", len(imgs), blobs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.manifest != "" && res.Manifest != c.manifest {
				t.Errorf("pulled manifest %s, want %s", res.Manifest, c.manifest)
			}
			named, err := st.Resolve(c.ref)
			if c.named != (err == nil) || (err == nil && named.ID != res.Image.ID) {
				t.Errorf("named: %v %v, want %v", named, err, c.named)
			}
		})
	}
}
