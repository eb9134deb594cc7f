package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildOutputArchives: the binary's `build --output` of an image with a
// RUN layer (kept as its snapshot, so written from it) gives archives the
// ecosystem reads — skopeo copies the docker archive and the OCI archive
// into OCI layouts, umoci unpacks one — and that load as the image a
// stored build of the same Dockerfile makes; the store gets no image.
func TestBuildOutputArchives(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RUN needs root")
	}
	for _, tool := range []string{"skopeo", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing", tool)
		}
	}
	root := t.TempDir()
	must(t, root, "import", busyboxTar(t), "base:1")
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM base:1\nRUN echo built > /built && busybox rm /bin/ls\n"), 0o644)
	id := strings.TrimSpace(must(t, root, "build", "-q", "--timestamp", "0", "-t", "stored:1", ctx))

	out := t.TempDir()
	other := root // the same base image: the same image ID is expected
	for _, typ := range []string{"docker", "oci"} {
		dest := filepath.Join(out, typ+".tar")
		must(t, other, "build", "-q", "--timestamp", "0", "-t", "app:1", "-o", "type="+typ+",dest="+dest, ctx)
		transport := map[string]string{"docker": "docker-archive:", "oci": "oci-archive:"}[typ]
		layout := filepath.Join(out, typ+"-layout")
		if b, err := exec.Command("skopeo", "copy", transport+dest, "oci:"+layout+":app").CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy %s: %v\n%s", typ, err, b)
		}
		bundle := filepath.Join(out, typ+"-bundle")
		if b, err := exec.Command("umoci", "unpack", "--image", layout+":app", bundle).CombinedOutput(); err != nil {
			t.Fatalf("umoci unpack %s: %v\n%s", typ, err, b)
		}
		if b, err := os.ReadFile(filepath.Join(bundle, "rootfs", "built")); err != nil || string(b) != "built\n" {
			t.Errorf("%s: /built %q %v", typ, b, err)
		}
		if _, err := os.Lstat(filepath.Join(bundle, "rootfs", "bin", "ls")); !os.IsNotExist(err) {
			t.Errorf("%s: /bin/ls deleted by the RUN is there (%v)", typ, err)
		}
		loaded := t.TempDir()
		must(t, loaded, "load", "-q", "-i", dest)
		if got := strings.TrimSpace(must(t, loaded, "images", "-q", "--no-trunc", "app:1")); got != id {
			t.Errorf("%s output loads as %q, the stored build is %s", typ, got, id)
		}
	}
	if got := strings.TrimSpace(must(t, other, "images", "-q", "app")); got != "" {
		t.Errorf("--output stored app: %s", got)
	}
}
