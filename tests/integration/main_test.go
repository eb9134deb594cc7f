// Package integration runs the strata binary as users and scripts do, in
// child processes: crash safety under kill -9, concurrent processes on one
// store, and the real tools of the ecosystem.
package integration

import (
	"archive/tar"
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
	path := filepath.Join(t.TempDir(), fmt.Sprintf("rootfs-%d.tar", seed))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewSource(seed))
	tw := tar.NewWriter(f)
	buf := make([]byte, size)
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	for i := 0; i < n; i++ {
		rng.Read(buf)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/f%05d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(buf)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// busyboxTar is Debian's busybox-static as a root filesystem tarball, the
// smallest real base image (skip when busybox-static is not installed: the
// test script installs it).
func busyboxTar(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs Debian's busybox-static (/bin/busybox)")
	}
	path := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	body, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "root/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))})
	tw.Write(body)
	for _, app := range []string{"sh", "ls", "cat", "echo", "true"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + app, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n")
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))})
	tw.Write(passwd)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeTarEntry writes a one-file tar to f, whatever the name says.
func writeTarEntry(t testing.TB, f *os.File, name, body string) {
	t.Helper()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
