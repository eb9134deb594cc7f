// Package integration runs the strata binary as users and scripts do, in
// child processes: crash safety under kill -9, concurrent processes on one
// store, and the real tools of the ecosystem.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testutil"
)

// bin is the strata binary built once for the package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-it-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", bin, "github.com/strata-dev/strata/cmd/strata")
	// As the README builds it: static, as users run it.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building strata:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// strata runs the binary on root and returns stdout, stderr and the exit code.
func strata(t testing.TB, root string, args ...string) (string, string, int) {
	t.Helper()
	// A hung command must fail the test with its name, not time out the
	// whole package without saying which.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--root", root}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("strata %s hung (killed after 3 minutes); stderr: %s", strings.Join(args, " "), e.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// must runs strata and fails the test on a non-zero exit.
func must(t testing.TB, root string, args ...string) string {
	t.Helper()
	out, errOut, code := strata(t, root, args...)
	if code != 0 {
		t.Fatalf("strata %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// rootfsTar writes a tarball of n files of size bytes each (random content,
// so every call makes a different layer) to a temp file.
func rootfsTar(t testing.TB, n, size int, seed int64) string {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	entries := []testutil.Entry{testutil.Dir("data/")}
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		rng.Read(buf)
		entries = append(entries, testutil.File(fmt.Sprintf("data/f%05d", i), string(buf)))
	}
	return tempFile(t, fmt.Sprintf("rootfs-%d.tar", seed), testutil.Tar(t, entries...))
}

// busyboxTar is Debian's busybox-static as a root filesystem tarball, the
// smallest real base image (skip when busybox-static is not installed: the
// test script installs it).
func busyboxTar(t testing.TB) string {
	t.Helper()
	return tempFile(t, "busybox.tar", testutil.BusyboxTar(t))
}

// tempFile writes b to a file named name in a new temp dir.
func tempFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
