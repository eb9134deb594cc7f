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

// TestRunDNS follows docker 20.10 (recorded with busybox): --dns,
// --dns-search and --dns-option make the container's resolv.conf
// ("search example.com\nnameserver 1.2.3.4\nnameserver 5.6.7.8\noptions
// ndots:2\n"), inspect shows them in HostConfig, and a --dns that is no IP
// address is refused: exit 125, `invalid argument "bogus" for "--dns"
// flag: bogus is not an ip address`.
func TestRunDNS(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	out, errOut, code := sh(t, root, "run", "--name", "dns", "--network", "none", "--dns", "1.2.3.4", "--dns", "5.6.7.8",
		"--dns-search", "example.com", "--dns-option", "ndots:2", "busybox", "cat", "/etc/resolv.conf")
	if want := "search example.com\nnameserver 1.2.3.4\nnameserver 5.6.7.8\noptions ndots:2\n"; code != 0 || out != want {
		t.Errorf("resolv.conf: exit %d %s\n%q, want %q", code, errOut, out, want)
	}
	if got, _, _ := sh(t, root, "inspect", "-f", "{{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}}", "dns"); got != `["1.2.3.4","5.6.7.8"] ["example.com"] ["ndots:2"]`+"\n" {
		t.Errorf("inspect: %q", got)
	}
	_, errOut, code = sh(t, root, "run", "--rm", "--dns", "bogus", "busybox", "true")
	if code != 125 || errOut != "Error: invalid argument \"bogus\" for \"--dns\" flag: bogus is not an ip address\n" {
		t.Errorf("--dns bogus: exit %d %q", code, errOut)
	}
}

// TestRunGroupAdd follows docker 20.10 (recorded with busybox, whose
// /etc/group has no "audio"): --group-add's groups join the user's
// ("-u 1000 --group-add 1234": "uid=1000 gid=0(root) groups=0(root),1234";
// root with --group-add 10: "Groups: 0 10"), names are looked up in the
// container's /etc/group, and a missing one fails the start, exit 125,
// "Unable to find group audio: no matching entries in group file".
func TestRunGroupAdd(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	for _, c := range []struct {
		args       []string
		want, errs string
		code       int
	}{
		{[]string{"-u", "1000", "--group-add", "1234", "busybox", "id"}, "uid=1000 gid=0(root) groups=0(root),1234\n", "", 0},
		{[]string{"--group-add", "10", "busybox", "grep", "Groups", "/proc/self/status"}, "Groups:\t0 10 \n", "", 0},
		{[]string{"--group-add", "root", "--group-add", "7", "busybox", "grep", "Groups", "/proc/self/status"}, "Groups:\t0 7 \n", "", 0},
		{[]string{"--group-add", "audio", "busybox", "id"}, "", "Error: Unable to find group audio: no matching entries in group file\n", 125},
	} {
		out, errOut, code := sh(t, root, append([]string{"run", "--rm", "--network", "none"}, c.args...)...)
		if code != c.code || out != c.want || errOut != c.errs {
			t.Errorf("run %v: exit %d %q %q, want %d %q %q", c.args, code, out, errOut, c.code, c.want, c.errs)
		}
	}
	// exec's processes get them too, as in docker.
	if _, errOut, code := sh(t, root, "run", "-d", "--name", "ga", "--group-add", "1234", "busybox", "sleep", "30"); code != 0 {
		t.Fatal(errOut)
	}
	defer sh(t, root, "rm", "-f", "ga")
	if out, errOut, _ := sh(t, root, "exec", "ga", "grep", "Groups", "/proc/self/status"); out != "Groups:\t0 1234 \n" {
		t.Errorf("exec: %q %s", out, errOut)
	}
	if out, _, _ := sh(t, root, "inspect", "-f", "{{json .HostConfig.GroupAdd}}", "ga"); out != `["1234"]`+"\n" {
		t.Errorf("inspect GroupAdd: %q", out)
	}
}
