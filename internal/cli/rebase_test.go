package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagediff"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestImageRebase: an image whose own steps only add files, rebased from
// base:1 onto base:2, is the image the same Dockerfile builds on base:2
// (image diff finds nothing), and pushing it sends no layer.
func TestImageRebase(t *testing.T) {
	regEnv(t)
	root := t.TempDir()
	st := openStore(t, root)
	bases := []struct {
		name, release, label string
		env                  []string
	}{
		{"base:1", "1", "one", []string{"PATH=/bin", "BASE_VERSION=1", "OLD_ONLY=x"}},
		{"base:2", "2", "two", []string{"PATH=/usr/bin:/bin", "BASE_VERSION=2", "NEW_ONLY=y"}},
	}
	for _, b := range bases {
		storetest.ConfigImage(t, st, b.name, func(c *image.ConfigFile) {
			c.Config.Env = b.env
			c.Config.Labels = map[string]string{"base": b.label, "vendor": "v"}
			c.Config.Cmd = []string{"sh"}
		}, testutil.Tar(t, testutil.Dir("etc/"), testutil.File("etc/release", b.release+"\n"), testutil.Dir("bin/")))
	}
	ctx := t.TempDir()
	files := map[string]string{
		"Dockerfile": "ARG BASE\nFROM $BASE\nENV APP=1 BASE_VERSION=mine\nLABEL vendor=me\nCOPY app.txt /app/\nCMD [\"app\"]\n",
		"app.txt":    "the app\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// One timestamp for both builds: the directory COPY makes has the
	// build's time, and builds a second apart made different layers.
	mustRun(t, root, "build", "-q", "--timestamp", "1700000000", "--build-arg", "BASE=base:1", "-t", "app:1", ctx)
	mustRun(t, root, "build", "-q", "--timestamp", "1700000000", "--build-arg", "BASE=base:2", "-t", "app:2", ctx)

	out, errOut, code := strata(t, root, "", "image", "rebase", "--old-base", "base:1", "--new-base", "base:2", "-t", "app:rebased", "app:1")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("rebase: exit %d, %q %q", code, out, errOut)
	}
	var d imagediff.Result
	if err := json.Unmarshal([]byte(mustRun(t, root, "image", "diff", "--format", "json", "app:2", "app:rebased")), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 0 || len(d.Config) != 0 {
		t.Errorf("the rebased image differs from the one built on base:2: files %+v config %+v", d.Files, d.Config)
	}
	for _, l := range d.Layers {
		if l.Where != imagediff.Shared {
			t.Errorf("layer %+v is not shared", l)
		}
	}

	st = openStore(t, root)
	im, err := st.Resolve("app:rebased")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.ReadBlob(im.Manifest.Digest, im.Manifest.Size)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Annotations["org.opencontainers.image.base.name"] != "base:2" || !strings.HasPrefix(m.Annotations["org.opencontainers.image.base.digest"], "sha256:") {
		t.Errorf("annotations %v", m.Annotations)
	}
	if h := mustRun(t, root, "history", "--no-trunc", "app:rebased"); !strings.Contains(h, "strata image rebase") {
		t.Errorf("history does not record the rebase:\n%s", h)
	}
	fsckClean(t, root)

	// Pushed after app:1 and base:2, the rebased image sends no layer.
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg.Host)
	mustRun(t, root, "push", "base:2", proxy.Host+"/lib/base:2")
	mustRun(t, root, "push", "app:1", proxy.Host+"/lib/app:1")
	proxy.Reset()
	out = mustRun(t, root, "push", "app:rebased", proxy.Host+"/lib/app:rebased")
	if strings.Contains(out, ": Pushed") || proxy.Uploaded() > 16<<10 {
		t.Errorf("pushing the rebased image sent %d bytes:\n%s", proxy.Uploaded(), out)
	}

	// Refusals: one line, no image.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"image", "rebase", "--old-base", "app:1", "--new-base", "base:2", "base:1"}, "is not built on app:1"},
		{[]string{"image", "rebase", "--old-base", "base:2", "--new-base", "base:1", "app:1"}, "layer 0 differs"},
		{[]string{"image", "rebase", "--new-base", "base:2", "app:1"}, "needs --old-base and --new-base"},
		{[]string{"image", "rebase", "--old-base", "base:1", "--new-base", "nosuch:1", "app:1"}, "No such image"},
	} {
		before := mustRun(t, root, "images", "-q")
		_, errOut, code := strata(t, root, "", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, %q; want a one-line error with %q", tc.args, code, errOut, tc.want)
		}
		if after := mustRun(t, root, "images", "-q"); after != before {
			t.Errorf("%v made an image", tc.args)
		}
	}
}
