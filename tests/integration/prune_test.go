package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// duBytes is what `du -sb` says of dir.
func duBytes(t *testing.T, dir string) int64 {
	t.Helper()
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(regexp.MustCompile(`^\d+`).FindString(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// killAfter starts strata with args, kills it with SIGKILL after d and
// waits for it.
func killAfter(t *testing.T, root string, d time.Duration, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// TestSystemPruneEmptiesTheStore: after builds, runs and pulls, and a kill
// -9 of each, `system prune -a -f` leaves the root within 1 MiB of an
// empty store, fsck passes, and `system df -v` accounts for every byte
// du counts, before and after.
func TestSystemPruneEmptiesTheStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RUN and run need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("needs runc")
	}
	for _, k := range []string{"DOCKER_CONFIG", "HOME"} {
		t.Setenv(k, t.TempDir())
	}
	root := filepath.Join(t.TempDir(), "store")
	must(t, root, "images")
	empty := duBytes(t, root)
	// Whatever happens, no mount outlives the test.
	t.Cleanup(func() { strata(t, root, "system", "prune", "-a", "-f") })

	must(t, root, "import", busyboxTar(t), "base:1")
	ctx := t.TempDir()
	df := "FROM base:1\n" +
		"RUN --mount=type=cache,target=/cache busybox head -c 3000000 /dev/urandom > /cache/c && busybox head -c 2000000 /dev/urandom > /a\n" +
		"COPY f /f\n" +
		"RUN busybox sleep 3\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), []byte("f\n"), 0o644)
	killAfter(t, root, 1500*time.Millisecond, "build", "-q", "-t", "killed:1", ctx)
	must(t, root, "build", "-q", "-t", "app:1", ctx)
	must(t, root, "run", "--name", "done", "app:1", "true")
	killAfter(t, root, 1500*time.Millisecond, "run", "--name", "killed", "app:1", "sleep", "30")

	// An image the store does not have, pulled (and a pull killed).
	reg := registrytest.Start(t, registrytest.Options{})
	other := t.TempDir()
	must(t, other, "import", rootfsTar(t, 40, 100000, 7), "other:1")
	must(t, other, "push", "other:1", reg.Host+"/t/other:1")
	killAfter(t, root, 200*time.Millisecond, "pull", reg.Host+"/t/other:1")
	must(t, root, "pull", "-q", reg.Host+"/t/other:1")

	checkAccount := func(when string) {
		out := must(t, root, "system", "df", "-v")
		m := regexp.MustCompile(`total\s+\S+ \((\d+) bytes\)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: df -v has no total:\n%s", when, out)
		}
		said, _ := strconv.ParseInt(m[1], 10, 64)
		du := duBytes(t, root)
		if diff := said - du; diff*100 > du || -diff*100 > du {
			t.Errorf("%s: df -v says %d bytes, du -sb %d", when, said, du)
		}
	}
	// What a remove killed between its record and its files leaves: a
	// container directory and runtime state that no record names.
	for _, d := range []string{"containers/0rphan", "runtime/0rphan"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
		os.WriteFile(filepath.Join(root, d, "debris"), make([]byte, 2<<20), 0o600)
	}
	checkAccount("before prune")
	if used := duBytes(t, root); used-empty < 4<<20 {
		t.Fatalf("the store grew only %d bytes: the test made nothing to prune", used-empty)
	}
	out := must(t, root, "system", "prune", "-a", "-f")
	if !regexp.MustCompile(`Total reclaimed space: \d`).MatchString(out) {
		t.Errorf("prune output:\n%s", out)
	}
	t.Logf("system prune -a -f:\n%s", out)
	fsckOK(t, root, "system prune")
	if left := duBytes(t, root) - empty; left > 1<<20 {
		out, _ := exec.Command("du", "-ab", root).Output()
		t.Errorf("system prune -a left %d bytes more than an empty store:\n%s", left, out)
	}
	checkAccount("after prune")
	if out := must(t, root, "ps", "-a", "-q"); out != "" {
		t.Errorf("containers left: %s", out)
	}
	// The store still works.
	must(t, root, "import", busyboxTar(t), "base:1")
	must(t, root, "run", "--rm", "base:1", "true")
}
