package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/container/containertest"
	"github.com/strata-dev/strata/internal/store"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// strataBin builds the strata binary once: detached containers run it as
// their monitor, and signals must reach a real process.
func strataBin(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-cli-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "strata")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/strata-dev/strata/cmd/strata").CombinedOutput()
		if err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func busyboxRoot(t *testing.T) string {
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	containertest.BusyboxImage(t, st, "busybox")
	t.Cleanup(func() {
		exec.Command(binPath, "--root", root, "rm", "-f", "c1", "c2", "fg").Run()
		raw, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(raw), root) {
			t.Errorf("mounts left under %s", root)
		}
	})
	return root
}

func sh(t *testing.T, root string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"--root", root}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestContainerLifecycleCLI(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	busyboxID, _, _ := sh(t, root, "images", "-q", "busybox")
	busyboxID = strings.TrimSpace(busyboxID)
	steps := []struct {
		args     []string
		wantOut  string // regexp
		wantErr  string // regexp
		wantCode int
	}{
		{[]string{"run", "-d", "--name", "c1", "busybox", "sh", "-c", "echo started; trap 'echo got TERM; exit 7' TERM; while :; do sleep 0.1; done"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"ps", "--format", "{{.Names}} {{.Image}} {{.Command}} {{.State}}"}, `^c1 busybox "sh -c 'echo started…" running\n$`, ``, 0},
		{[]string{"ps"}, `^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n[0-9a-f]{12}\s+busybox\s+.*Up .*c1\n$`, ``, 0},
		{[]string{"exec", "c1", "cat", "/etc/hostname"}, `^.+\n$`, ``, 0},
		{[]string{"exec", "c1", "nosuch"}, `^$`, `executable file not found`, 126}, // docker 20.10's exec
		{[]string{"rmi", "busybox"}, ``, `conflict: unable to remove repository reference "busybox"`, 1},
		// docker 20.10's rmi by ID of an image a container uses.
		{[]string{"rmi", "-f", busyboxID}, ``, `^Error: conflict: unable to delete [0-9a-f]{12} \(cannot be forced\) - image is being used by running container [0-9a-f]{12}\n$`, 1},
		{[]string{"rm", "c1"}, ``, `container is running`, 1},
		{[]string{"stop", "-t", "5", "c1"}, `^c1\n$`, ``, 0},
		{[]string{"rmi", busyboxID}, ``, `^Error: conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is being used by stopped container [0-9a-f]{12}\n$`, 1},
		{[]string{"wait", "c1"}, `^7\n$`, ``, 0},
		{[]string{"logs", "c1"}, `^started\ngot TERM\n$`, ``, 0},
		{[]string{"ps", "-a", "--format", "{{.Names}} {{.Status}}"}, `^c1 Exited \(7\) .* ago\n$`, ``, 0},
		{[]string{"start", "c1"}, `^c1\n$`, ``, 0},
		{[]string{"kill", "c1"}, `^c1\n$`, ``, 0},
		{[]string{"wait", "c1"}, `^137\n$`, ``, 0},
		// docker 20.10: wait on a --rm container prints its exit code, then it is
		// gone (its monitor removes it; the steps below give it the time).
		{[]string{"run", "-d", "--rm", "--name", "c3", "busybox", "sh", "-c", "sleep 0.5; exit 3"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"wait", "c3"}, `^3\n$`, ``, 0},
		{[]string{"create", "--name", "c2", "busybox", "sh", "-c", "echo hi > /f; exit 4"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"start", "-a", "c2"}, `^$`, ``, 4},
		{[]string{"diff", "c2"}, `^A /f\n$`, ``, 0},
		{[]string{"commit", "-c", "CMD cat /f", "c2", "withf:1"}, `^sha256:[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"run", "--rm", "withf:1"}, `^hi\n$`, ``, 0},
		{[]string{"run", "--rm", "busybox", "nosuch"}, ``, `^Error: exec: "nosuch": executable file not found in \$PATH\n$`, 127},
		{[]string{"run", "--rm", "-v", "x", "busybox", "true"}, ``, `^Error: invalid volume specification`, 125},
		{[]string{"run", "--pull", "never", "--rm", "nosuch", "true"}, ``, `^Error: No such image: nosuch\n$`, 125},
		{[]string{"start", "nosuch"}, ``, `No such container: nosuch`, 1},
		{[]string{"rm", "c1", "c2"}, `^c1\nc2\n$`, ``, 0},
		{[]string{"ps", "-aq"}, `^$`, ``, 0},
	}
	for _, s := range steps {
		out, errOut, code := sh(t, root, s.args...)
		if code != s.wantCode || !regexp.MustCompile(s.wantOut).MatchString(out) || (s.wantErr != "" && !regexp.MustCompile(s.wantErr).MatchString(errOut)) {
			t.Fatalf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.wantCode, out, s.wantOut, errOut, s.wantErr)
		}
	}
}

// SIGTERM sent to `strata run` reaches the container's process.
func TestRunForwardsSignals(t *testing.T) {
	bin := strataBin(t)
	root := busyboxRoot(t)
	cmd := exec.Command(bin, "--root", root, "run", "--rm", "--name", "fg", "busybox", "sh", "-c", "trap 'echo got TERM; exit 9' TERM; echo ready; while :; do sleep 0.1; done")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && !strings.Contains(out.String(), "ready"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 9 || out.String() != "ready\ngot TERM\n" {
		t.Fatalf("exit %v, output %q", err, out.String())
	}
	if o, _, _ := sh(t, root, "ps", "-aq"); o != "" {
		t.Fatalf("--rm left %q", o)
	}
}
