package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestCIDFile follows docker 20.10's --cidfile (recorded with busybox):
// the file holds the container's 64-hex ID with no newline, mode 0644,
// and stays after a --rm run; an existing file is refused before anything
// is made (run: exit 125; create: 1), "container ID file found, make sure
// the other container isn't running or delete PATH"; a create that fails
// leaves no file.
func TestCIDFile(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	dir := t.TempDir()
	cid := filepath.Join(dir, "cid")
	if _, errOut, code := sh(t, root, "run", "--rm", "--cidfile", cid, "busybox", "true"); code != 0 {
		t.Fatalf("run --cidfile: exit %d %s", code, errOut)
	}
	b, err := os.ReadFile(cid)
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).Match(b) {
		t.Fatalf("cidfile %q %v, want a container ID", b, err)
	}
	if fi, _ := os.Stat(cid); fi.Mode().Perm() != 0o644 {
		t.Errorf("cidfile mode %v, want 0644", fi.Mode().Perm())
	}
	found := "^Error: container ID file found, make sure the other container isn't running or delete " + regexp.QuoteMeta(cid) + "\n$"
	for _, c := range []struct {
		cmd  string
		code int
	}{{"run", 125}, {"create", 1}} {
		_, errOut, code := sh(t, root, c.cmd, "--cidfile", cid, "--name", "never-"+c.cmd, "busybox", "true")
		if code != c.code || !regexp.MustCompile(found).MatchString(errOut) {
			t.Errorf("%s with an existing cidfile: exit %d (want %d) %q", c.cmd, code, c.code, errOut)
		}
	}
	if out, _, _ := sh(t, root, "ps", "-aq"); out != "" {
		t.Errorf("a refused create made a container: %q", out)
	}

	created := filepath.Join(dir, "created")
	out, errOut, code := sh(t, root, "create", "--cidfile", created, "busybox", "true")
	if b, _ := os.ReadFile(created); code != 0 || string(b)+"\n" != out {
		t.Errorf("create --cidfile: exit %d %s; file %q, printed %q", code, errOut, b, out)
	}
	failed := filepath.Join(dir, "failed")
	if _, _, code := sh(t, root, "create", "--cidfile", failed, "--pull", "never", "nosuch:1", "true"); code == 0 {
		t.Fatal("create of a missing image succeeded")
	}
	if _, err := os.Stat(failed); err == nil {
		t.Error("a failed create left its cidfile")
	}
}
