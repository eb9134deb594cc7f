package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// TestKeptRunLayerLeavesTheMachine: a RUN layer that a build kept as its
// snapshot (the default) is pushed gzip-compressed, pulled elsewhere as the
// same image, saved, loaded and analysed like any other layer.
func TestKeptRunLayerLeavesTheMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RUN needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := exec.LookPath("crun"); err != nil {
			t.Skip("RUN needs runc or crun")
		}
	}
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	root := t.TempDir()
	mustRun(t, root, "load", "-q", "-i", filepath.Join("..", "builder", "testdata", "conformance", "busybox.tar.gz"))
	ctx := t.TempDir()
	df := "FROM localhost:5000/busybox:latest\n" +
		"RUN mkdir -p /data/d && head -c 200000 /dev/urandom > /data/r && echo hi > /data/d/h && rm /bin/vi\n" +
		"CMD [\"cat\", \"/data/d/h\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(mustRun(t, root, "build", "-q", "-t", "app:1", ctx))
	st := openStore(t, root)
	im, err := st.Resolve("app:1")
	if err != nil || im.ID.String() != id {
		t.Fatalf("built %s, resolved %v %v", id, im, err)
	}
	top := im.Layers[len(im.Layers)-1]
	sbs, err := st.SnapBlobs()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sbs[top.Digest]; !ok || st.Content.Has(top.Digest) {
		t.Fatalf("the RUN layer %s is not kept as its snapshot (kept %d layers)", top.Digest, len(sbs))
	}
	fsckClean(t, root)
	if out := mustRun(t, root, "system", "df"); !strings.Contains(out, "Layers kept as snapshots (RUN steps; no blob until pushed or saved): 1, ") {
		t.Errorf("system df does not count the kept layer:\n%s", out)
	}

	// push gzips it; pulled, it is the same image with a gzip layer.
	dest := reg.Host + "/kept/app:1"
	if out := mustRun(t, root, "push", "app:1", dest); !strings.Contains(out, "Pushed") {
		t.Errorf("first push pushed nothing:\n%s", out)
	}
	dst := t.TempDir()
	mustRun(t, dst, "pull", dest)
	pulled, err := openStore(t, dst).Resolve(dest)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.ID != im.ID {
		t.Errorf("pulled image %s, pushed %s", pulled.ID, im.ID)
	}
	pl := pulled.Layers[len(pulled.Layers)-1]
	if pl.MediaType != ocispec.MediaTypeImageLayerGzip || pl.DiffID != top.DiffID {
		t.Errorf("pulled layer %s %s, want gzip with diffID %s", pl.MediaType, pl.DiffID, top.DiffID)
	}
	fsckClean(t, dst)
	// A second push sends nothing: the gzip digest was remembered.
	if out := mustRun(t, root, "push", "app:1", dest); strings.Contains(out, "Pushed") {
		t.Errorf("second push sent layers again:\n%s", out)
	}

	// push --compression-format zstd converts it from its snapshot;
	// pulled, it is the same layer, zstd-compressed.
	zdest := reg.Host + "/kept/app:zstd"
	mustRun(t, root, "push", "--compression-format", "zstd", "app:1", zdest)
	zdst := t.TempDir()
	mustRun(t, zdst, "pull", zdest)
	zpulled, err := openStore(t, zdst).Resolve(zdest)
	if err != nil {
		t.Fatal(err)
	}
	if zl := zpulled.Layers[len(zpulled.Layers)-1]; zpulled.ID != im.ID || zl.MediaType != ocispec.MediaTypeImageLayerZstd || zl.DiffID != top.DiffID {
		t.Errorf("pulled %s with top layer %s %s, want %s, zstd, %s", zpulled.ID, zl.MediaType, zl.DiffID, im.ID, top.DiffID)
	}
	fsckClean(t, root)

	// save and load into another store: the same image.
	tarPath := filepath.Join(t.TempDir(), "app.tar")
	mustRun(t, root, "save", "-o", tarPath, "app:1")
	other := t.TempDir()
	mustRun(t, other, "load", "-q", "-i", tarPath)
	if got, err := openStore(t, other).Resolve("app:1"); err != nil || got.ID != im.ID {
		t.Errorf("loaded %v %v, want %s", got, err, im.ID)
	}

	// analyze reads it: the layer added the files and removed /bin/vi.
	var res struct {
		Layers []struct {
			DiffID  digest.Digest       `json:"diffID"`
			Added   struct{ Files int } `json:"added"`
			Removed struct{ Files int } `json:"removed"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, root, "analyze", "--format", "json", "app:1")), &res); err != nil {
		t.Fatal(err)
	}
	last := res.Layers[len(res.Layers)-1]
	if last.DiffID != top.DiffID || last.Added.Files != 2 || last.Removed.Files != 1 {
		t.Errorf("analysis of the kept layer: %+v", last)
	}
}
