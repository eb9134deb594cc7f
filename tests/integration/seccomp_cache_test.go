package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSeccompCacheCrun: a container run by crun with a seccomp profile
// whose program crun compiled before loads that program (the seccomp
// cache, internal/runtime): the kernel holds the same filter for a
// container started from the cache as for one crun compiled the profile
// for, exec works in it, and a damaged or stale entry is never used.
func TestSeccompCacheCrun(t *testing.T) {
	if _, err := exec.LookPath("crun"); err != nil {
		t.Fatal("crun is needed (the test script installs it)")
	}
	t.Setenv("STRATA_RUNTIME", "crun")
	root := t.TempDir()
	cache := filepath.Join(root, "cache", "seccomp")
	must(t, root, "import", busyboxTar(t), "bb:1")

	// filter returns the seccomp program the kernel holds for the
	// process of a running container.
	filter := func(id string) []byte {
		t.Helper()
		pid, err := strconv.Atoi(strings.TrimSpace(must(t, root, "inspect", "-f", "{{.State.Pid}}", id)))
		if err != nil {
			t.Fatal(err)
		}
		return seccompFilter(t, pid)
	}
	// annotation is the program the container's config hands crun ("" none).
	annotation := func(id string) string {
		t.Helper()
		var cfg struct{ Annotations map[string]string }
		raw, err := os.ReadFile(filepath.Join(root, "containers", id, "bundle", "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		return cfg.Annotations["run.oci.seccomp_bpf_data"]
	}
	entries := func() []string {
		t.Helper()
		des, _ := os.ReadDir(cache)
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return names
	}

	// Nothing cached: crun compiles the profile; once the container is
	// gone its program is kept.
	cold := strings.TrimSpace(must(t, root, "run", "-d", "--network", "none", "bb:1", "sleep", "60"))
	if a := annotation(cold); a != "" {
		t.Fatal("a compiled program was handed to crun with nothing cached")
	}
	compiled := filter(cold)
	must(t, root, "rm", "-f", cold)
	names := entries()
	if len(names) != 1 || strings.HasPrefix(names[0], "incoming-") {
		t.Fatalf("cache after the first container: %v, want one entry", names)
	}
	entry := filepath.Join(cache, names[0])

	// Cached: crun is handed the program, and the kernel holds the same
	// filter as when crun compiled it.
	warm := strings.TrimSpace(must(t, root, "run", "-d", "--network", "none", "bb:1", "sleep", "60"))
	a := annotation(warm)
	if a == "" {
		t.Fatal("the cached program was not handed to crun")
	}
	prog, err := base64.StdEncoding.DecodeString(a)
	if err != nil {
		t.Fatal(err)
	}
	if got := filter(warm); !bytes.Equal(got, compiled) || !bytes.Equal(prog, compiled) {
		t.Fatalf("filter from the cache (%d instructions, handed %d) differs from crun's own (%d)", len(got)/8, len(prog)/8, len(compiled)/8)
	}
	if out := must(t, root, "exec", warm, "grep", "^Seccomp:", "/proc/self/status"); !strings.Contains(out, "2") {
		t.Fatalf("exec in a container started from the cache: %q, want seccomp filter mode 2", out)
	}
	must(t, root, "rm", "-f", warm)

	// A damaged entry is a miss: crun compiles again and the entry is
	// written anew.
	raw, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	damaged := append([]byte{}, raw...)
	damaged[len(damaged)-1] ^= 0xff
	if err := os.WriteFile(entry, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(must(t, root, "run", "-d", "--network", "none", "bb:1", "sleep", "60"))
	if annotation(id) != "" {
		t.Fatal("a damaged cache entry was handed to crun")
	}
	must(t, root, "rm", "-f", id)
	if again, _ := os.ReadFile(entry); !bytes.Equal(again, raw) {
		t.Fatal("the damaged entry was not written anew")
	}

	// Another profile is another entry; runc is never handed one.
	must(t, root, "run", "--rm", "--network", "none", "--cap-add", "SYS_ADMIN", "bb:1", "true")
	if n := len(entries()); n != 2 {
		t.Fatalf("%d entries after a container with another profile, want 2", n)
	}
	t.Setenv("STRATA_RUNTIME", "runc")
	id = strings.TrimSpace(must(t, root, "run", "-d", "--network", "none", "bb:1", "sleep", "60"))
	if annotation(id) != "" {
		t.Fatal("runc's config has crun's annotation")
	}
	must(t, root, "rm", "-f", id)
}

// seccompFilter reads the first seccomp program of process pid with
// PTRACE_SECCOMP_GET_FILTER.
func seccompFilter(t *testing.T, pid int) []byte {
	t.Helper()
	// ptrace requests come from the thread that attached.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := unix.PtraceSeize(pid); err != nil {
		t.Fatalf("ptrace seize %d: %v", pid, err)
	}
	defer unix.PtraceDetach(pid)
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(pid), 0, 0, 0, 0); e != 0 {
		t.Fatal(e)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		t.Fatal(err)
	}
	const getFilter = 0x420c // PTRACE_SECCOMP_GET_FILTER
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", e)
	}
	prog := make([]byte, n*8)
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(pid), 0, uintptr(unsafe.Pointer(&prog[0])), 0, 0); e != 0 {
		t.Fatal(e)
	}
	return prog
}
