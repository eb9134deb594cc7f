package cli

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagediff"
	"github.com/strata-dev/strata/internal/rewrite"
)

// secretMark is the content of a file one RUN adds and a later RUN
// deletes: a squashed image must hold it in no blob.
const secretMark = "secret-7f3a9c-do-not-ship"

// squashDockerfile builds three layers on busybox: a COPY, a RUN that adds
// the secret (and deletes a file of the base), a RUN that deletes it.
const squashDockerfile = "FROM localhost:5000/busybox:latest\n" +
	"COPY a /a\n" +
	"RUN echo " + secretMark + " > /secret && mkdir /d && echo x > /d/x && rm /bin/vi\n" +
	"RUN rm /secret && echo y > /d/y\n" +
	"ENV A=1\n"

// TestBuildSquash: --squash merges the layers the final stage adds into
// one above its base's (the same blobs), --squash-all merges every layer;
// the root filesystem is the unsquashed build's, the deleted secret is in
// no blob, the history keeps every entry, the build cache still holds
// every step (a rebuild is CACHED step by step and the same image), and
// nothing unsquashed is left as an image.
func TestBuildSquash(t *testing.T) {
	needRun(t)
	root := t.TempDir()
	mustRun(t, root, "load", "-q", "-i", filepath.Join("..", "builder", "testdata", "conformance", "busybox.tar.gz"))
	ctx := buildContext(t, map[string]string{"Dockerfile": squashDockerfile, "a": "a\n"})
	st := openStore(t, root)
	base, err := st.Resolve("localhost:5000/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	nbase := len(base.Layers)

	// First build: every step runs. Second: every step is CACHED (the
	// squash too) and the image is the same, with no --timestamp (the
	// squash takes the time of the newest step, as the image does).
	_, errOut, code := strata(t, root, "", "build", "--progress", "plain", "--squash", "-t", "sq:1", ctx)
	if code != 0 {
		t.Fatalf("build --squash: exit %d\n%s", code, errOut)
	}
	out, errOut, code := strata(t, root, "", "build", "--progress", "plain", "--squash", "-t", "sq:1", ctx)
	if code != 0 {
		t.Fatalf("second build --squash: exit %d\n%s", code, errOut)
	}
	for _, step := range []string{"[2/4] COPY a /a", "[3/4] RUN echo", "[4/4] RUN rm /secret"} {
		if !regexpStepCached(errOut, step) {
			t.Errorf("second build: step %q not CACHED:\n%s", step, errOut)
		}
	}
	if !strings.Contains(errOut, "squashing layers 1 to 3 into one: CACHED") {
		t.Errorf("second build merged again:\n%s", errOut)
	}
	sq, err := st.Resolve("sq:1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != sq.ID.String() {
		t.Errorf("build printed %q, sq:1 is %s", out, sq.ID)
	}
	if id := strings.TrimSpace(mustRun(t, root, "build", "-q", "--squash", ctx)); id != sq.ID.String() {
		t.Errorf("build -q --squash printed %s, want the squashed image %s", id, sq.ID)
	}
	// Only the squashed image is an image: the unsquashed one was never
	// stored, its layers are build cache.
	if got := strings.Fields(mustRun(t, root, "images", "-a", "-q", "--no-trunc")); len(got) != 2 {
		t.Errorf("images -a after squashed builds: %v, want busybox and sq:1", got)
	}
	if df := mustRun(t, root, "system", "df"); !strings.Contains(df, "Build Cache   6 ") {
		t.Errorf("system df: want 6 build cache records (FROM, 3 steps, ENV, squash):\n%s", df)
	}

	mustRun(t, root, "build", "-q", "--squash-all", "-t", "sq:all", ctx)
	mustRun(t, root, "build", "-q", "-t", "plain:1", ctx)
	tests := []struct {
		ref        string
		wantLayers int
		shared     int // bottom layers that are busybox's own blobs
		squashedBy string
	}{
		{"sq:1", nbase + 1, nbase, "strata build --squash"},
		{"sq:all", 1, 0, "strata build --squash-all"},
	}
	plain := openSource(t, "plain:1", root)
	found := false
	for _, l := range plain.Layers() {
		found = found || holds(t, plain, l, secretMark) != ""
	}
	if !found {
		t.Fatal("no layer of the unsquashed image holds the secret: the check below would prove nothing")
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			src := openSource(t, tc.ref, root)
			layers := src.Layers()
			if len(layers) != tc.wantLayers {
				t.Fatalf("%d layers, want %d", len(layers), tc.wantLayers)
			}
			for i := 0; i < tc.shared; i++ {
				if layers[i].Digest != base.Layers[i].Digest {
					t.Errorf("layer %d is %s, not the base's blob %s", i, layers[i].Digest, base.Layers[i].Digest)
				}
			}
			d, err := imagediff.Compare(context.Background(), plain, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Files) != 0 {
				t.Errorf("root filesystem differs from the unsquashed build's: %+v", d.Files)
			}
			for _, l := range layers {
				if bad := holds(t, src, l, secretMark); bad != "" {
					t.Errorf("layer %s holds the deleted secret (%s)", l.Digest, bad)
				}
			}
			// History: every entry of the unsquashed image, its layers'
			// marked empty_layer, plus the squash's.
			ph, h := plain.Config().File.History, src.Config().File.History
			if len(h) != len(ph)+1 || h[len(h)-1].CreatedBy != tc.squashedBy || h[len(h)-1].EmptyLayer {
				t.Fatalf("history %+v", h)
			}
			nonEmpty := 0
			for i, e := range h[:len(ph)] {
				if e.CreatedBy != ph[i].CreatedBy {
					t.Errorf("history entry %d is %q, want %q", i, e.CreatedBy, ph[i].CreatedBy)
				}
				if !e.EmptyLayer {
					nonEmpty++
				}
			}
			if nonEmpty != tc.shared {
				t.Errorf("%d history entries own a layer below the squash, want %d", nonEmpty, tc.shared)
			}
		})
	}
	fsckClean(t, root)
}

// regexpStepCached says whether the plain progress shows the step named
// by its label as CACHED.
func regexpStepCached(progress, label string) bool {
	i := strings.Index(progress, label)
	if i < 0 {
		return false
	}
	rest := progress[i:]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j]
	}
	return strings.Contains(rest, "CACHED")
}

// openSource opens a stored image as a Source, closed at the test's end.
func openSource(t *testing.T, ref, root string) image.Source {
	t.Helper()
	src, err := openStore(t, root).Source(ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// holds returns the entry of layer l of src whose name or content holds
// mark ("" when none does).
func holds(t *testing.T, src image.Source, l image.Layer, mark string) string {
	t.Helper()
	rc, err := rewrite.OpenTar(context.Background(), src, l)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h.Name, "secret") || strings.Contains(string(b), mark) {
			return h.Name
		}
	}
}

// TestBuildSquashOutputsAndScratch: --squash from scratch merges every
// layer, and a final stage FROM a stage keeps only the first base image's; --output writes the squashed image (the same ID as the stored
// one, nothing stored); --squash with --squash-all is refused in one line.
func TestBuildSquashOutputsAndScratch(t *testing.T) {
	root := t.TempDir()
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a /etc/a\nCOPY b /b\nCMD [\"/b\"]\n",
		"a":          "a\n",
		"b":          "b\n",
	})
	id := strings.TrimSpace(mustRun(t, root, "build", "-q", "--timestamp", "0", "--squash", "-t", "scratch:sq", ctx))
	if n := strings.TrimSpace(mustRun(t, root, "inspect", "-f", "{{len .RootFS.Layers}}", "scratch:sq")); n != "1" {
		t.Errorf("--squash from scratch: %s layers, want 1", n)
	}
	all := strings.TrimSpace(mustRun(t, root, "build", "-q", "--timestamp", "0", "--squash-all", ctx))
	if all == id {
		t.Error("--squash-all from scratch gave the --squash image: their history entries differ")
	}

	// A final stage FROM another stage: the layers that stage made are
	// squashed too, down to the image the chain of FROMs starts at.
	multi := buildContext(t, map[string]string{
		"Dockerfile": "FROM scratch:sq AS mid\nCOPY a /mid-a\nFROM mid\nCOPY b /final-b\n",
		"a":          "a\n",
		"b":          "b\n",
	})
	mustRun(t, root, "build", "-q", "--squash", "-t", "multi:sq", multi)
	st := openStore(t, root)
	baseImg, err := st.Resolve("scratch:sq")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := st.Resolve("multi:sq"); err != nil || len(m.Layers) != 2 || m.Layers[0].Digest != baseImg.Layers[0].Digest {
		t.Errorf("--squash of a stage FROM a stage: %v %v, want scratch:sq's layer and one more", m, err)
	}

	// A final stage that adds no layer: nothing to merge, the base's layer
	// is the image's.
	envOnly := buildContext(t, map[string]string{"Dockerfile": "FROM scratch:sq\nENV X=1\n"})
	mustRun(t, root, "build", "-q", "--squash", "-t", "env:sq", envOnly)
	if e, err := st.Resolve("env:sq"); err != nil || len(e.Layers) != 1 || e.Layers[0].Digest != baseImg.Layers[0].Digest {
		t.Errorf("--squash of a stage without layers: %v %v, want scratch:sq's one layer", e, err)
	}

	other := t.TempDir()
	dest := filepath.Join(t.TempDir(), "sq.tar")
	if got := strings.TrimSpace(mustRun(t, other, "build", "-q", "--timestamp", "0", "--squash", "-t", "scratch:sq", "-o", "type=docker,dest="+dest, ctx)); got != id {
		t.Errorf("build -o printed %s, want the stored squashed image %s", got, id)
	}
	if got := mustRun(t, other, "images", "-a", "-q"); got != "" {
		t.Errorf("--squash --output stored images: %s", got)
	}
	loaded := t.TempDir()
	mustRun(t, loaded, "load", "-q", "-i", dest)
	if got, err := openStore(t, loaded).Resolve("scratch:sq"); err != nil || got.ID.String() != id || len(got.Layers) != 1 {
		t.Errorf("loaded --output archive: %v %v, want %s with one layer", got, err, id)
	}
	tarOut := mustRun(t, other, "build", "-q", "--squash", "-o", "-", ctx)
	if files := tarFiles(t, []byte(tarOut)); files["etc/a"] != "a\n" || files["b"] != "b\n" {
		t.Errorf("--squash -o -: %v", files)
	}

	_, errOut, code := strata(t, root, "", "build", "--squash", "--squash-all", "-t", "both:1", ctx)
	if code != 1 || strings.TrimSpace(errOut) != "Error: --squash and --squash-all cannot be used together" {
		t.Errorf("--squash --squash-all: exit %d, stderr %q", code, errOut)
	}
	if _, _, code := strata(t, root, "", "inspect", "both:1"); code == 0 {
		t.Error("the refused build made an image")
	}
	if _, err := os.Stat(dest); err != nil {
		t.Fatal(err)
	}
}
