package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// smallDisk mounts a 64 MiB tmpfs for a store and returns its path; it is
// unmounted (lazily, with whatever containers left mounted in it) when the
// test ends.
func smallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fillDisk writes a file that leaves about free bytes on dir's
// filesystem, and returns a function that removes it.
func fillDisk(t *testing.T, dir string, free int64) func() {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * st.Bsize
	if avail <= free {
		t.Fatalf("only %d bytes free before filling", avail)
	}
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for left := avail - free; left > 0; left -= int64(len(buf)) {
		if left < int64(len(buf)) {
			buf = buf[:left]
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatalf("filling the disk: %v", err)
		}
	}
	f.Close()
	return func() { os.Remove(p) }
}

// storeState is what a failed operation must leave as it was: the images,
// the snapshots and the temp files of blobs and builds.
func storeState(t *testing.T, root string) string {
	t.Helper()
	var parts []string
	parts = append(parts, "images: "+strings.Join(strings.Fields(must(t, root, "images", "-a", "-q", "--no-trunc")), " "))
	snaps, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "s", "*"))
	for i := range snaps {
		snaps[i] = filepath.Base(snaps[i])
	}
	sort.Strings(snaps)
	parts = append(parts, "snapshots: "+strings.Join(snaps, " "))
	for _, tmp := range []string{"blobs/ingest", "build/tmp", "snapshots/overlay/tmp", "snapshots/vfs/tmp"} {
		ents, _ := os.ReadDir(filepath.Join(root, tmp))
		if len(ents) > 0 {
			parts = append(parts, tmp+": "+ents[0].Name()+"...")
		}
	}
	return strings.Join(parts, "\n")
}

// TestDiskFull fills the store's filesystem and runs each command that
// writes a big layer: it must fail with one line that says "no space left
// on device" and names the command, leave the store as it was (no image,
// snapshot or temp file; fsck passes; the earlier image runs), and succeed
// once space is freed.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("disk-full rounds are long")
	}
	disk := smallDisk(t)
	root := filepath.Join(disk, "store")
	must(t, root, "import", busyboxTar(t), "base:1")

	// A 15 MiB layer, as a tarball, a saved archive, a registry image and a
	// build context: with 6 MiB free none of them fits, with the filler
	// gone each does.
	bigTar := rootfsTar(t, 15, 1<<20, 7)
	src := t.TempDir()
	must(t, src, "import", bigTar, "big:1")
	archive := filepath.Join(t.TempDir(), "big.tar")
	must(t, src, "save", "-o", archive, "big:1")
	reg := registrytest.Start(t, registrytest.Options{})
	must(t, src, "push", "-q", "big:1", reg.Host+"/disk/big:1")
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM base:1\nCOPY data /data\n"), 0o644)
	if out, err := exec.Command("tar", "-C", ctx, "-xf", bigTar).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// A container whose changes are a big layer for commit.
	must(t, root, "run", "--name", "filled", "base:1", "sh", "-c", "head -c 15000000 /dev/urandom > /big")

	for _, c := range []struct {
		op     string
		args   []string
		result string // the image the command makes, removed after
	}{
		{"import", []string{"import", bigTar, "imported:1"}, "imported:1"},
		{"load", []string{"load", "-i", archive}, "big:1"},
		{"pull", []string{"pull", "-q", reg.Host + "/disk/big:1"}, reg.Host + "/disk/big:1"},
		{"build", []string{"build", "-q", "-t", "built:1", ctx}, "built:1"},
		{"commit", []string{"commit", "filled", "committed:1"}, "committed:1"},
	} {
		t.Run(c.op, func(t *testing.T) {
			before := storeState(t, root)
			free := fillDisk(t, disk, 6<<20)
			out, errOut, code := strata(t, root, c.args...)
			if code == 0 {
				free()
				t.Fatalf("%s succeeded on a full disk:\n%s", c.op, out)
			}
			errOut = strings.TrimSpace(errOut)
			t.Logf("on a full disk: %s", errOut)
			if strings.Contains(errOut, "\n") || !strings.HasPrefix(errOut, "Error: "+c.op+": ") ||
				!strings.Contains(errOut, "no space left on device") {
				t.Errorf("want one line naming %s and the full disk, got:\n%s", c.op, errOut)
			}
			if after := storeState(t, root); after != before {
				t.Errorf("the failed %s changed the store:\nbefore:\n%s\nafter:\n%s", c.op, before, after)
			}
			fsckOK(t, root, c.op+" on a full disk")
			if out := must(t, root, "run", "--rm", "base:1", "echo", "still runs"); out != "still runs\n" {
				t.Errorf("base:1 after %s: %q", c.op, out)
			}
			free()
			must(t, root, c.args...)
			fsckOK(t, root, c.op+" after space was freed")
			must(t, root, "rmi", c.result)
			must(t, root, "image", "prune", "-f")
		})
	}
	if len(strings.Fields(must(t, root, "images", "-q"))) != 1 {
		t.Errorf("images left:\n%s", must(t, root, "images"))
	}
}
