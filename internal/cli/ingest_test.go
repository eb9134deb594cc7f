package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/archive/archivetest"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// blobFiles lists the blob files of the store at root.
func blobFiles(t *testing.T, root string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(root, "blobs", "sha256", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// refused runs a command that must refuse bad: one line naming the entry
// (and the layer's index when the command reads several), a failure
// status, no blob or record left, and a store that fsck passes.
func refused(t *testing.T, root string, bad testutil.BadImage, layerIndex bool, args ...string) {
	t.Helper()
	before := blobFiles(t, root)
	out, errOut, code := strata(t, root, "", args...)
	if code == 0 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, fmt.Sprintf("%q", bad.Entry)) || !strings.Contains(errOut, bad.Reason) {
		t.Errorf("strata %s: exit %d, want one line refusing entry %q (%s):\n%s%s", strings.Join(args, " "), code, bad.Entry, bad.Reason, out, errOut)
	}
	if layerIndex && !strings.Contains(errOut, fmt.Sprintf("layer %d (sha256:", bad.Bad)) {
		t.Errorf("strata %s does not name layer %d: %s", strings.Join(args, " "), bad.Bad, errOut)
	}
	if after := blobFiles(t, root); !slices.Equal(before, after) {
		t.Errorf("strata %s left blobs: %d before, %d after", strings.Join(args, " "), len(before), len(after))
	}
	fsckClean(t, root)
}

// TestBadLayersRefusedAtEntry: every bad stack is refused by import (its
// bad layer alone), load and pull, with nothing stored, next to images
// that stay as they were.
func TestBadLayersRefusedAtEntry(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	root := fixture(t)
	images := mustRun(t, root, "images")
	dir := t.TempDir()
	for i, bad := range testutil.BadImages() {
		t.Run(bad.Name, func(t *testing.T) {
			var layers [][]byte
			for _, l := range bad.Layers {
				layers = append(layers, testutil.Tar(t, l...))
			}
			imp := filepath.Join(dir, fmt.Sprintf("layer%d.tar", i))
			if err := os.WriteFile(imp, layers[bad.Bad], 0o644); err != nil {
				t.Fatal(err)
			}
			refused(t, root, bad, false, "import", imp, "bad:1")

			arch, _ := archivetest.LegacyArchive(t, []archivetest.LegacyImage{{Layers: layers, RepoTags: []string{"bad:1"}}})
			ap := filepath.Join(dir, fmt.Sprintf("image%d.tar", i))
			if err := os.WriteFile(ap, arch, 0o644); err != nil {
				t.Fatal(err)
			}
			refused(t, root, bad, true, "load", "-i", ap)

			reg.PutImage(t, "bad", fmt.Sprint(i), "linux/"+runtime.GOARCH, layers...)
			refused(t, root, bad, true, "pull", fmt.Sprintf("%s/bad:%d", reg.Host, i))
		})
	}
	if got := mustRun(t, root, "images"); got != images {
		t.Errorf("images changed:\n%s\nwas\n%s", got, images)
	}
}

// TestBadLayersOfStoredImages: an image stored before the checks existed
// is reported by fsck and analyze with the same words as a refusal.
func TestBadLayersOfStoredImages(t *testing.T) {
	for _, bad := range testutil.BadImages() {
		t.Run(bad.Name, func(t *testing.T) {
			root := t.TempDir()
			st := openStore(t, root)
			var layers [][]byte
			for _, l := range bad.Layers {
				layers = append(layers, testutil.Tar(t, l...))
			}
			storetest.UncheckedImage(t, st, "bad:1", layers...)
			want := fmt.Sprintf("layer %d (sha256:", bad.Bad)
			out, errOut, code := strata(t, root, "", "fsck")
			if code == 0 || !strings.Contains(out+errOut, want) || !strings.Contains(out+errOut, fmt.Sprintf("%q", bad.Entry)) {
				t.Errorf("fsck: exit %d, want a problem with %s entry %q:\n%s%s", code, want, bad.Entry, out, errOut)
			}
			out, errOut, _ = strata(t, root, "", "analyze", "bad:1")
			if !strings.Contains(out, "Problems: 1 layers") || !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("%q", bad.Entry)) {
				t.Errorf("analyze does not report %s entry %q:\n%s%s", want, bad.Entry, out, errOut)
			}
		})
	}
}

// TestBadLayersRefusedFromContainers: commit and build write layers of
// their own; a file named like a bad whiteout in a container or a build
// context is refused too, with nothing stored.
func TestBadLayersRefusedFromContainers(t *testing.T) {
	strataBin(t)
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := exec.LookPath("crun"); err != nil {
			t.Skip("needs runc or crun")
		}
	}
	root := busyboxRoot(t)
	top := testutil.BadImage{Entry: ".wh.", Reason: "whiteout"}
	dotdot := testutil.BadImage{Entry: "etc/.wh..", Reason: "whiteout"}

	// commit: a container that made /.wh. (a whiteout of the root).
	if _, errOut, code := sh(t, root, "run", "--name", "c1", "busybox", "touch", "/.wh."); code != 0 {
		t.Fatalf("run: %s", errOut)
	}
	refused(t, root, top, false, "commit", "c1", "bad:1")

	// build: COPY of a context with such a file, and RUN making one.
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, ".wh."), nil, 0o644)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nCOPY .wh. /\n"), 0o644)
	refused(t, root, top, false, "build", "-q", "-t", "bad:2", ctx)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN touch /etc/.wh..\n"), 0o644)
	refused(t, root, dotdot, false, "build", "-q", "-t", "bad:3", ctx)
}
