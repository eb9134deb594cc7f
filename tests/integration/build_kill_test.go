package integration

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillBuild kills `strata build` with SIGKILL at random moments (in a
// RUN, while its layer is hashed and its snapshot committed, while the
// image is written) and checks after each kill that the store is as
// usable as before: fsck passes, the earlier image is whole, and an image
// the build finished is whole too (save writes its kept RUN layers from
// their snapshots and checks their digests). At the end, garbage
// collection leaves no mount, work directory or snapshot of the killed
// builds behind.
func TestKillBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop is long")
	}
	if os.Geteuid() != 0 {
		t.Skip("RUN needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := exec.LookPath("crun"); err != nil {
			t.Skip("RUN needs runc or crun")
		}
	}
	root := t.TempDir()
	must(t, root, "import", busyboxTar(t), "base:1")
	ctx := t.TempDir()
	df := "FROM base:1\n" +
		"RUN busybox head -c 30000000 /dev/urandom > /a && busybox sleep 0.1\n" +
		"RUN busybox head -c 30000000 /dev/urandom > /b && busybox rm /bin/ls\n" +
		"COPY f /f\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), []byte("f\n"), 0o644)
	must(t, root, "build", "-q", "-t", "keeper:1", ctx)
	sink := filepath.Join(t.TempDir(), "out.tar")

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	killed := 0
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("victim:%d", i)
		cmd := exec.Command(bin, "--root", root, "build", "-q", "--no-cache", "-t", name, ctx)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(1000)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		}
		when := fmt.Sprintf("kill -9 of `strata build` (iteration %d)", i)
		fsckOK(t, root, when)
		names := imageNames(t, root)
		if !names["keeper:1"] {
			t.Fatalf("after %s: keeper:1 is gone", when)
		}
		for n := range names {
			must(t, root, "save", "-o", sink, n)
		}
	}
	if killed == 0 {
		t.Fatal("no build was killed before it finished: the loop tested nothing")
	}
	t.Logf("%d of 12 builds were killed mid-way", killed)

	// Collect: what the killed builds left goes.
	for n := range imageNames(t, root) {
		if strings.HasPrefix(n, "victim:") {
			must(t, root, "rmi", n)
		}
	}
	must(t, root, "builder", "prune", "-a", "-f")
	must(t, root, "image", "prune", "-f")
	if out := must(t, root, "fsck"); strings.Contains(out, "unreferenced") {
		t.Errorf("unreferenced blobs left: %s", out)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), root) {
		t.Errorf("mounts left under the store:\n%s", mi)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "build", "tmp")); len(ents) > 0 {
		t.Errorf("%d build work directories left", len(ents))
	}
	snaps, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "s", "*"))
	for _, s := range snaps {
		if !strings.HasPrefix(filepath.Base(s), "sha256=") {
			t.Errorf("snapshot %s left", filepath.Base(s))
		}
	}
	// keeper:1 has 4 layers, of which the base and the two RUN layers have
	// snapshots; the final COPY's layer was never unpacked.
	if len(snaps) > 4 {
		t.Errorf("%d snapshots left, want at most keeper:1's 4", len(snaps))
	}
	must(t, root, "save", "-o", sink, "keeper:1")
}
