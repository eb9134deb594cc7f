package cli

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestContainerHabitsAsDocker: what a docker user types in a running
// container, with docker 20.10's answers recorded on busybox:
//
//	$ docker exec -d c sh -c 'echo hi > /tmp/o'   -> rc 0 at once; /tmp/o is written
//	$ docker exec -d c nosuch                      -> "... executable file not found in $PATH", rc 1
//	$ docker exec c nosuch                         -> rc 126 (20.10's exec: 126 for both)
//	$ docker exec c /etc                           -> "... permission denied", rc 126
//	$ docker exec -u 1000:1000 c id                -> uid=1000 gid=1000 groups=1000
//	$ docker exec -u 1000 c id                     -> uid=1000 gid=0(root) groups=0(root)
//	$ docker run --rm -t busybox sh -c 'echo hi; tty; echo err >&2' </dev/null
//	  -> "hi\r\n/dev/pts/0\r\nerr\r\n" on stdout, rc 0
//	$ echo abc | docker run --rm -i -t busybox true -> "the input device is not a TTY", rc 1
func TestContainerHabitsAsDocker(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	if _, errOut, code := sh(t, root, "run", "-d", "--name", "c1", "busybox", "sleep", "60"); code != 0 {
		t.Fatal(errOut)
	}
	steps := []struct {
		args     []string
		wantOut  string // regexp
		wantErr  string // regexp
		wantCode int
	}{
		// Returns while its command waits for /tmp/go, made below.
		{[]string{"exec", "-d", "c1", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; echo hi > /tmp/o"}, `^$`, `^$`, 0},
		{[]string{"exec", "c1", "touch", "/tmp/go"}, `^$`, `^$`, 0},
		{[]string{"exec", "-d", "c1", "nosuch"}, `^$`, `executable file not found in \$PATH`, 1},
		{[]string{"exec", "c1", "nosuch"}, `^$`, `executable file not found in \$PATH`, 126},
		{[]string{"exec", "c1", "/etc"}, `^$`, `permission denied`, 126},
		{[]string{"exec", "-u", "1000:1000", "c1", "id"}, `^uid=1000 gid=1000 groups=1000\n$`, `^$`, 0},
		{[]string{"exec", "-u", "1000", "c1", "id"}, `^uid=1000 gid=0\(root\) groups=0\(root\)\n$`, `^$`, 0},
		{[]string{"run", "--rm", "-t", "busybox", "sh", "-c", "echo hi; tty; echo err >&2"}, `^hi\r\n/dev/pts/0\r\nerr\r\n$`, `^$`, 0},
		{[]string{"run", "--rm", "-t", "busybox", "sh", "-c", "exit 3"}, `^$`, `^$`, 3},
		{[]string{"run", "--rm", "-i", "-t", "busybox", "true"}, `^$`, `the input device is not a TTY`, 1},
	}
	for _, s := range steps {
		out, errOut, code := sh(t, root, s.args...)
		if code != s.wantCode || !regexp.MustCompile(s.wantOut).MatchString(out) || !regexp.MustCompile(s.wantErr).MatchString(errOut) {
			t.Errorf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.wantCode, out, s.wantOut, errOut, s.wantErr)
		}
	}
	// What exec -d started ran on after it returned.
	for i := 0; ; i++ {
		out, _, _ := sh(t, root, "exec", "c1", "cat", "/tmp/o")
		if out == "hi\n" {
			break
		}
		if i == 100 {
			t.Fatalf("exec -d: /tmp/o is %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBuildInterruptedExits130: ^C during a build exits 130, as docker's
// client killed by SIGINT does (the shell's 128+2); BuildKit's client, when
// a RUN fails, exits 1 whatever the RUN's status (docker 20.10's classic
// builder gave the RUN's own: `RUN exit 3` -> 3; strata follows BuildKit).
func TestBuildInterruptedExits130(t *testing.T) {
	bin := strataBin(t)
	root := busyboxRoot(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo started; sleep 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--root", root, "build", "--progress", "plain", dir)
	var errOut syncBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(errOut.String(), "started"); i++ {
		if i == 600 {
			cmd.Process.Kill()
			t.Fatalf("the RUN did not start:\n%s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("build interrupted: exit %d, want 130\n%s", code, errOut.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN exit 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := sh(t, root, "build", "-q", dir); code != 1 {
		t.Errorf("build of a failing RUN: exit %d, want 1 (BuildKit's)", code)
	}
}

// TestRunInterruptedDuringUnpack: ^C while the first run of an image
// unpacks its layer stops the unpack at once and exits 130 (docker's client
// killed by SIGINT), leaving no snapshot of the layer, whole or half; the
// next run unpacks it. (The unpack used to ignore the ^C and finish.)
func TestRunInterruptedDuringUnpack(t *testing.T) {
	bin := strataBin(t)
	root := t.TempDir()
	// A layer of many files of random bytes: its unpack takes long enough
	// to be caught in the middle.
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	chunk := make([]byte, 1<<20)
	for i := range 96 {
		rand.Read(chunk)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%03d", i), Mode: 0o644, Size: int64(len(chunk)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(chunk)
	}
	tw.Close()
	layerTar := filepath.Join(t.TempDir(), "big.tar")
	if err := os.WriteFile(layerTar, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := sh(t, root, "import", layerTar, "big:1"); code != 0 {
		t.Fatalf("import: %d %s", code, errOut)
	}
	unpacking := func() []string {
		m, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "s", "unpack-*"))
		return m
	}
	cmd := exec.Command(bin, "--root", root, "run", "--rm", "--network", "none", "big:1", "/f000")
	var errOut syncBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; len(unpacking()) == 0; i++ {
		if i == 2000 {
			cmd.Process.Kill()
			t.Fatalf("no unpack seen:\n%s", errOut.String())
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("run interrupted during the unpack: exit %d, want 130\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "context canceled") {
		t.Errorf("the unpack was not cut short:\n%s", errOut.String())
	}
	if left := unpacking(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if committed, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "s", "sha256=*")); len(committed) > 0 {
		t.Errorf("the layer's snapshot was committed: %v", committed)
	}
	if _, errOut, code := sh(t, root, "run", "--rm", "--network", "none", "--entrypoint", "/bin/none", "big:1"); code != 127 {
		t.Errorf("the next run (which unpacks the layer, then finds no /bin/none): exit %d, want 127\n%s", code, errOut)
	}
	if committed, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "s", "sha256=*")); len(committed) != 1 {
		t.Errorf("after the next run: %v", committed)
	}
}

// TestForegroundRunKilled: `strata run --rm` killed with SIGKILL leaves
// nothing once the next command has looked: the container's process is
// killed, the state is not left "running", and --rm is honoured (the
// reconcile of internal/container). docker's client killed with SIGKILL
// leaves the container to its daemon, which runs it to its end and then
// removes it: strata has no daemon, so the next command ends it.
func TestForegroundRunKilled(t *testing.T) {
	bin := strataBin(t)
	root := busyboxRoot(t)
	cmd := exec.Command(bin, "--root", root, "run", "--rm", "--name", "fg", "busybox", "sh", "-c", "echo ready; exec sleep 6171")
	var out syncBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(out.String(), "ready"); i++ {
		if i == 600 {
			cmd.Process.Kill()
			t.Fatal("the container did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; len(sleepers(t, "6171")) == 0; i++ { // the check below can see it
		if i == 600 {
			cmd.Process.Kill()
			t.Fatal("no process runs sleep 6171")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got, errOut, code := sh(t, root, "ps", "-a", "--format", "{{.Names}} {{.Status}}"); code != 0 || got != "" {
		t.Errorf("ps -a after the foreground run was killed: %q %s (want nothing: --rm)", got, errOut)
	}
	if pids := sleepers(t, "6171"); len(pids) > 0 {
		t.Errorf("the container's process still runs: %v", pids)
	}
}

// sleepers lists the processes running `sleep arg`.
func sleepers(t *testing.T, arg string) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasSuffix(string(raw), "sleep\x00"+arg+"\x00") {
			out = append(out, e.Name())
		}
	}
	return out
}
