package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunSandboxFlags: run's and create's confinement and limit flags,
// end to end through the binary (the executor's tests check each flag on
// runc and crun; these check that the flags reach it, are kept in the
// container's record for start and exec, and that bad values are one line
// and status 125).
func TestRunSandboxFlags(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	bind := t.TempDir()
	os.WriteFile(filepath.Join(bind, "f"), []byte("from the host\n"), 0o644)
	for _, s := range []struct {
		args     []string
		wantOut  string // regexp
		wantErr  string // regexp
		wantCode int
	}{
		{[]string{"run", "--rm", "busybox", "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; unshare -U true"},
			`^CapEff:\s+00000000a80425fb\nSeccomp:\s+2\n$`, `Operation not permitted`, 1},
		{[]string{"run", "--rm", "--cap-drop", "chown", "busybox", "chown", "1", "/tmp"}, `^$`, `Operation not permitted`, 1},
		{[]string{"run", "--rm", "-m", "16m", "busybox", "tail", "/dev/zero"}, `^$`, ``, 137},
		{[]string{"run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/t", "--init", "--ulimit", "nofile=100:200",
			"--add-host", "db:10.0.0.1", "--shm-size", "1m", "--mount", "type=bind,src=" + bind + ",dst=/b,ro", "--security-opt", "no-new-privileges",
			"busybox", "sh", "-c", "touch /x; touch /t/x && echo t; cat /proc/1/comm; ulimit -n; grep -w db /etc/hosts; df -k /dev/shm | tail -1; cat /b/f; grep NoNewPrivs /proc/self/status"},
			`^t\ndocker-init\n100\n10\.0\.0\.1\tdb\nshm\s+1024\s.*\nfrom the host\nNoNewPrivs:\s+1\n$`, `touch: /x: Read-only file system`, 0},
		{[]string{"run", "--rm", "--privileged", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c", "mount -t tmpfs t /tmp && echo mounted"}, `^mounted\n$`, ``, 0},
		// Kept for start and exec: the exec has the container's confinement.
		{[]string{"run", "-d", "--name", "c1", "--cap-drop", "ALL", "--cap-add", "kill", "--pids-limit", "50", "busybox", "sleep", "100"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"exec", "c1", "sh", "-c", "grep CapEff /proc/self/status; ulimit -n"}, `^CapEff:\s+0000000000000020\n`, ``, 0},
		{[]string{"rm", "-f", "c1"}, `^c1\n$`, ``, 0},
		{[]string{"create", "--name", "c2", "--tmpfs", "/t", "--init", "--mount", "type=bind,source=" + bind + ",target=/b", "busybox", "sh", "-c", "echo x > /t/x; echo y > /y"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"start", "-a", "c2"}, `^$`, ``, 0},
		{[]string{"diff", "c2"}, `^A /y\n$`, ``, 0},
		{[]string{"rm", "c2"}, `^c2\n$`, ``, 0},
		// Bad values: one line, 125, nothing made.
		{[]string{"run", "--rm", "--memory", "10x", "busybox", "true"}, `^$`, `^Error: invalid argument "10x" for "--memory" flag: invalid suffix: 'x'\n$`, 125},
		{[]string{"run", "--rm", "--cap-add", "fly", "busybox", "true"}, `^$`, `^Error: unknown capability: "CAP_FLY"\n$`, 125},
		{[]string{"run", "--rm", "--mount", "type=volume,src=v,dst=/v", "busybox", "true"}, `^$`, `^Error: invalid argument .* named volumes are not supported`, 125},
		{[]string{"run", "--rm", "--ulimit", "nofile=2:1", "busybox", "true"}, `^$`, `^Error: invalid argument "nofile=2:1" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit`, 125},
		{[]string{"run", "--rm", "--security-opt", "seccomp=/no/such.json", "busybox", "true"}, `^$`, `^Error: opening seccomp profile \(/no/such.json\) failed`, 125},
		{[]string{"create", "--tmpfs", "/b", "-v", bind + ":/b", "busybox", "true"}, `^$`, `^Error: Duplicate mount point: /b\n$`, 1}, // docker create: 1, docker run: 125
		{[]string{"ps", "-aq"}, `^$`, ``, 0},
	} {
		out, errOut, code := sh(t, root, s.args...)
		if code != s.wantCode || !regexp.MustCompile(s.wantOut).MatchString(out) || (s.wantErr != "" && !regexp.MustCompile(s.wantErr).MatchString(errOut)) {
			t.Fatalf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.wantCode, out, s.wantOut, errOut, s.wantErr)
		}
	}
}

// TestBuildSandbox: a build's RUN has docker's default capabilities and
// seccomp profile (as BuildKit's RUN), and --add-host, --ulimit and
// --shm-size reach it; they are part of the step's cache key.
func TestBuildSandbox(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	ctx := t.TempDir()
	df := "FROM busybox\nRUN (grep -E '^(CapEff|Seccomp):' /proc/self/status; unshare -U true 2>&1; chown 1 /tmp && echo chown ok; " +
		"ulimit -n; grep -w db /etc/hosts; df -k /dev/shm | tail -1) > /out\nCMD [\"cat\", \"/out\"]\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	build := func(args ...string) {
		t.Helper()
		if out, errOut, code := sh(t, root, append(append([]string{"build", "-q", "-t", "sb"}, args...), ctx)...); code != 0 {
			t.Fatalf("build %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	build()
	out, _, _ := sh(t, root, "run", "--rm", "sb")
	if !regexp.MustCompile(`^CapEff:\s+00000000a80425fb\nSeccomp:\s+2\nunshare: unshare\(0x10000000\): Operation not permitted\nchown ok\n`).MatchString(out) {
		t.Errorf("RUN is not confined as docker's build confines it:\n%s", out)
	}
	build("--add-host", "db:10.0.0.1", "--ulimit", "nofile=1024:2048", "--shm-size", "128m")
	out, _, _ = sh(t, root, "run", "--rm", "sb")
	if !regexp.MustCompile(`\n1024\n10\.0\.0\.1\tdb\nshm\s+131072\s`).MatchString(out) {
		t.Errorf("the sandbox flags did not reach RUN (or the step was taken from the cache):\n%s", out)
	}
	if _, errOut, code := sh(t, root, "build", "--ulimit", "nofile", ctx); code != 1 || !strings.Contains(errOut, `invalid argument "nofile" for "--ulimit" flag`) {
		t.Errorf("a bad --ulimit: exit %d, %q", code, errOut)
	}
}
