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

// skopeoRun runs skopeo (skipping the test where it is missing) and
// returns its output.
func skopeoRun(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	b, err := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, b)
	}
	return string(b)
}

// zstdManifest checks that raw is an OCI manifest of config id whose
// layers are all zstd.
func zstdManifest(t *testing.T, raw string, id digest.Digest) ocispec.Manifest {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, raw)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.Digest != id || len(m.Layers) == 0 {
		t.Errorf("manifest %s of config %s, want an OCI manifest of %s", m.MediaType, m.Config.Digest, id)
	}
	for i, l := range m.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayerZstd {
			t.Errorf("layer %d: %s", i, l.MediaType)
		}
	}
	return m
}

// TestCompressionFormat: push --compression-format zstd of an image whose
// layers are stored gzip and uncompressed sends zstd layers that skopeo,
// podman and strata read as the same image (config, diffIDs); a second
// push uploads no layer (the conversions were kept); save writes the same
// layers into an oci-archive that skopeo reads; rmi takes the converted
// blobs away; bad values are one line.
func TestCompressionFormat(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg.Host)
	root := t.TempDir()
	_, app := sharedImages(t, root, 256<<10)

	dest := proxy.Host + "/cz/app:zstd"
	if out := mustRun(t, root, "push", "--compression-format", "zstd", "app:1", dest); strings.Count(out, ": Pushed") != 3 || strings.Count(out, ": Converting to zstd") != 3 {
		t.Errorf("first push:\n%s", out)
	}
	m := zstdManifest(t, skopeoRun(t, "inspect", "--raw", "--tls-verify=false", "docker://"+dest), app.ID)
	skopeoRun(t, "copy", "--src-tls-verify=false", "docker://"+dest, "oci:"+filepath.Join(t.TempDir(), "oci")+":app")

	dst := t.TempDir()
	mustRun(t, dst, "pull", dest)
	pulled, err := openStore(t, dst).Resolve(dest)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.ID != app.ID || len(pulled.Layers) != len(app.Layers) {
		t.Fatalf("pulled %s with %d layers, pushed %s with %d", pulled.ID, len(pulled.Layers), app.ID, len(app.Layers))
	}
	for i, l := range pulled.Layers {
		if l.DiffID != app.Layers[i].DiffID || l.Digest != m.Layers[i].Digest {
			t.Errorf("pulled layer %d: %s (blob %s), pushed %s (blob %s)", i, l.DiffID, l.Digest, app.Layers[i].DiffID, m.Layers[i].Digest)
		}
	}
	fsckClean(t, dst)

	// Again, to another tag: every conversion is found (nothing is
	// compressed), every layer is in the registry (none is sent).
	proxy.Reset()
	if out := mustRun(t, root, "push", "--compression-format", "zstd", "app:1", proxy.Host+"/cz/app:again"); strings.Contains(out, ": Pushed") || strings.Contains(out, "Converting") || proxy.Uploaded() > 16<<10 {
		t.Errorf("second push sent %d bytes:\n%s", proxy.Uploaded(), out)
	}
	// To another repository of the registry: mounted, not sent.
	proxy.Reset()
	if out := mustRun(t, root, "push", "--compression-format", "zstd", "app:1", proxy.Host+"/cz/other:1"); strings.Count(out, "Mounted from cz/app") != 3 || proxy.Uploaded() > 16<<10 {
		t.Errorf("push to another repository sent %d bytes:\n%s", proxy.Uploaded(), out)
	}
	fsckClean(t, root)

	if _, err := exec.LookPath("podman"); err == nil {
		pdir := t.TempDir()
		auth := filepath.Join(pdir, "auth.json")
		os.WriteFile(auth, []byte("{}"), 0o600)
		cmd := exec.Command("podman", "--root", filepath.Join(pdir, "root"), "--runroot", filepath.Join(pdir, "run"), "--storage-driver", "vfs",
			"pull", "-q", "--tls-verify=false", reg.Host+"/cz/app:zstd")
		cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+auth)
		b, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) != app.ID.Encoded() {
			t.Errorf("podman pull: %v\n%s\nwant image %s", err, b, app.ID.Encoded())
		}
	}

	// save writes the blobs push sent.
	archive := filepath.Join(t.TempDir(), "app.tar")
	mustRun(t, root, "save", "--compression-format", "zstd", "--format", "oci-archive", "-o", archive, "app:1")
	saved := zstdManifest(t, skopeoRun(t, "inspect", "--raw", "oci-archive:"+archive), app.ID)
	for i, l := range saved.Layers {
		if l.Digest != m.Layers[i].Digest {
			t.Errorf("saved layer %d is %s, pushed %s", i, l.Digest, m.Layers[i].Digest)
		}
	}
	skopeoRun(t, "copy", "oci-archive:"+archive, "oci:"+filepath.Join(t.TempDir(), "fromsave")+":app")

	for _, args := range [][]string{
		{"push", "--compression-format", "xz", "app:1", proxy.Host + "/cz/app:xz"},
		{"push", "--compression-format", "zstd", "--compression-level", "23", "app:1", proxy.Host + "/cz/app:x"},
		{"push", "--compression-level", "3", "app:1", proxy.Host + "/cz/app:x"},
		{"save", "--compression-format", "zstd", "-o", archive, "app:1"},
		{"save", "--compression-format", "gzip", "--format", "oci-archive", "--compression-level", "10", "-o", archive, "app:1"},
	} {
		_, errOut, code := strata(t, root, "", args...)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || !strings.Contains(errOut, "compression") {
			t.Errorf("%v: exit %d, %q; want 1 and one line", args, code, errOut)
		}
	}

	mustRun(t, root, "rmi", "app:1", "base:1")
	fsckClean(t, root)
	if left, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256")); len(left) != 0 {
		t.Errorf("%d blobs left after rmi of every image", len(left))
	}
}
