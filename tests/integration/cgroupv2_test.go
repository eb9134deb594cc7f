package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCgroupV2Host runs containers as on a host whose only cgroup
// hierarchy is v2: in a mount namespace of its own, /sys/fs/cgroup is
// replaced by a cgroup2 mount (on a hybrid host the v2 hierarchy then has
// the controllers v1 does not hold). The runtime strata picks must run
// there, and so must crun when asked for, unless strata's own check says
// crun cannot run on this host (crun raises RLIMIT_MEMLOCK for its eBPF
// device filter on v2, which a root without CAP_SYS_RESOURCE may not): that
// case is then skipped with the reason.
func TestCgroupV2Host(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed")
	}
	root := t.TempDir()
	must(t, root, "import", busyboxTar(t), "bb:1")
	inV2 := func(env []string, args ...string) (string, error) {
		script := `umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"`
		cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", bin, "--root", root}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"the runtime strata picks", []string{"STRATA_RUNTIME="}},
		{"crun", []string{"STRATA_RUNTIME=crun"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "crun" {
				if _, err := exec.LookPath("crun"); err != nil {
					t.Fatal("crun is needed (the test script installs it)")
				}
				v, err := inV2(nil, "version")
				if err != nil {
					t.Fatalf("version: %v: %s", err, v)
				}
				if i := strings.Index(v, "crun cannot run containers here: "); i >= 0 {
					t.Skipf("this host: %s", strings.TrimSpace(v[i:]))
				}
			}
			out, err := inV2(c.env, "run", "--rm", "--network", "none", "bb:1", "cat", "/proc/self/cgroup")
			if err != nil {
				t.Fatalf("run on a cgroup v2 host: %v: %s", err, out)
			}
			if !strings.Contains(out, "0::/strata/") {
				t.Fatalf("the container is not in a v2 cgroup of strata's: %s", out)
			}
		})
	}
}
