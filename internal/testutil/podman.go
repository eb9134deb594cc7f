package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Podman returns a runner of podman on a store of its own in a temp dir
// (vfs, so it needs no overlay of its own): it fails the test on an error
// and returns the combined output. It skips the test where podman is
// missing or the test is not root.
func Podman(t testing.TB) func(args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("no podman")
	}
	if os.Geteuid() != 0 {
		t.Skip("podman tests run as root")
	}
	dir := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		all := append([]string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}, args...)
		out, err := exec.Command("podman", all...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}
