package integration

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// rootlessDockerfile chowns in a RUN, copies with --chown and runs as a
// user: the owners a rootless build must write as root's does; it deletes
// a file and remakes a directory (a whiteout and an opaque directory,
// which overlay in a user namespace marks in user.* xattrs).
const rootlessDockerfile = `FROM %BASE%
RUN mkdir -p /data/old && echo hi > /data/f && echo x > /data/old/x && chown -R 1000:1000 /data && mkdir -m 1777 /scratch
RUN rm -rf /data/old /bin/vi && mkdir /data/old && chown 1000 /data/old
COPY --chown=1000:1000 a.txt /app/a.txt
USER 1000
RUN id -u > /scratch/id
`

// user is a user made for a test, with the environment strata gets
// when it logs in.
type user struct {
	name     string
	uid, gid int
	home     string
}

// newUser makes a user with a home under dir (userdel at the end), with
// a subordinate range of 65536 ids when withRange.
func newUser(t *testing.T, dir, name string, withRange bool) *user {
	t.Helper()
	home := filepath.Join(dir, name)
	// No range from login.defs: the test says which it has.
	out, err := exec.Command("useradd", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-M", "-d", home, "-s", "/bin/sh", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-f", name).Run() })
	// The namespace keeper strata left running (before userdel).
	t.Cleanup(func() {
		if raw, err := os.ReadFile(filepath.Join(home, "run", "strata", "ns.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	u := &user{name: name, home: home}
	for _, f := range []struct {
		flag string
		id   *int
	}{{"-u", &u.uid}, {"-g", &u.gid}} {
		out, err := exec.Command("id", f.flag, name).Output()
		if err != nil {
			t.Fatal(err)
		}
		*f.id, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	for _, d := range []string{home, filepath.Join(home, "run")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	if withRange {
		start := freeRange()
		r := strconv.Itoa(start) + "-" + strconv.Itoa(start+65535)
		if out, err := exec.Command("usermod", "--add-subuids", r, "--add-subgids", r, name).CombinedOutput(); err != nil {
			t.Fatalf("usermod: %v: %s", err, out)
		}
	}
	return u
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

// freeRange is the first id above every range of /etc/subuid and
// /etc/subgid (and above 100000, where shadow starts).
func freeRange() int {
	top := 100000
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			p := strings.Split(sc.Text(), ":")
			if len(p) == 3 {
				if end := mustAtoi(p[1]) + mustAtoi(p[2]); end > top {
					top = end
				}
			}
		}
		f.Close()
	}
	return top
}

// strata runs the binary as u, as a login shell would: its HOME, its
// XDG_RUNTIME_DIR, no sudo.
func (u *user) strata(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid", strconv.Itoa(u.uid), "--regid", strconv.Itoa(u.gid), "--clear-groups", "--", bin}, args...)...)
	cmd.Dir = u.home
	cmd.Env = append([]string{"HOME=" + u.home, "USER=" + u.name, "XDG_RUNTIME_DIR=" + filepath.Join(u.home, "run"),
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("strata %s as %s hung; stderr: %s", strings.Join(args, " "), u.name, e.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func (u *user) must(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := u.strata(t, bin, env, args...)
	if code != 0 {
		t.Fatalf("strata %s as %s: exit %d: %s", strings.Join(args, " "), u.name, code, errOut)
	}
	return out
}

var pushedDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)

// TestRootless is a user with subordinate ids and no sudo: import, build
// (the same image as root's under SOURCE_DATE_EPOCH), run, commit, save,
// load, push and pull (the same digests), images, rmi, prune, analyze,
// info; and a user without a range gets one line naming the file and the
// usermod command, with nothing made in its store.
func TestRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes users: run as root")
	}
	reg := registrytest.Start(t, registrytest.Options{})
	// Everything the users read (the binary, the fixtures) and their
	// homes live under a directory they can enter.
	dir, err := os.MkdirTemp("", "strata-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ubin := filepath.Join(dir, "strata")
	copyFile(t, bin, ubin)
	if err := os.Chmod(ubin, 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "busybox.tar")
	copyFile(t, busyboxTar(t), base)
	ctxDir := filepath.Join(dir, "ctx")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	baseRef := reg.Host + "/base:1"
	for name, body := range map[string]string{"Dockerfile": strings.ReplaceAll(rootlessDockerfile, "%BASE%", baseRef), "a.txt": "a\n"} {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	suffix := strconv.Itoa(os.Getpid() % 100000)
	u := newUser(t, dir, "strl"+suffix, true)
	epoch := []string{"SOURCE_DATE_EPOCH=1700000000"}

	// Root's build, the reference, on a base both pull (an import's
	// config has the time of the import).
	root := t.TempDir()
	must(t, root, "import", base, baseRef)
	must(t, root, "push", "-q", baseRef)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	want := strings.TrimSpace(must(t, root, "build", "-q", "-t", "app:1", ctxDir))

	u.must(t, ubin, nil, "import", base, "imported:1")
	u.must(t, ubin, nil, "pull", "-q", baseRef)
	got := strings.TrimSpace(u.must(t, ubin, epoch, "build", "-q", "-t", "app:1", ctxDir))
	if got != want {
		t.Errorf("rootless build gave image %s, root's %s (same Dockerfile, same SOURCE_DATE_EPOCH)", got, want)
	}
	info := u.must(t, ubin, nil, "info")
	for _, line := range []string{"Rootless: true", "Subordinate UIDs: ", "Root Dir: " + filepath.Join(u.home, ".local/share/strata"),
		"Runtime Dir: " + filepath.Join(u.home, "run", "strata")} {
		if !strings.Contains(info, line) {
			t.Errorf("info lacks %q:\n%s", line, info)
		}
	}

	// run as the image's user, and a commit of a container's change.
	if out := u.must(t, ubin, nil, "run", "--rm", "--network", "none", "app:1", "sh", "-c", "cat /scratch/id /data/f; stat -c %u /app/a.txt"); out != "1000\nhi\n1000\n" {
		t.Errorf("run: %q", out)
	}
	u.must(t, ubin, nil, "run", "--name", "c1", "--network", "none", "app:1", "sh", "-c", "echo new > /scratch/new")
	u.must(t, ubin, nil, "commit", "c1", "committed:1")
	if out := u.must(t, ubin, nil, "run", "--rm", "--network", "none", "committed:1", "stat", "-c", "%u %n", "/scratch/new"); out != "1000 /scratch/new\n" {
		t.Errorf("committed file: %q", out)
	}
	u.must(t, ubin, nil, "rm", "c1")
	// One command's container is another's too (the same namespaces).
	u.must(t, ubin, nil, "run", "-d", "--name", "bg", "--network", "none", "app:1", "sleep", "60")
	if out := u.must(t, ubin, nil, "exec", "bg", "cat", "/scratch/id"); out != "1000\n" {
		t.Errorf("exec in a detached container: %q", out)
	}
	u.must(t, ubin, nil, "rm", "-f", "bg")
	rootlessNetwork(t, u, ubin)

	// save and load (in another store) give the image back.
	archive := filepath.Join(u.home, "app.tar")
	u.must(t, ubin, nil, "save", "-o", archive, "app:1")
	loaded := filepath.Join(u.home, "loaded-store")
	u.must(t, ubin, nil, "--root", loaded, "load", "-i", archive)
	if out := u.must(t, ubin, nil, "--root", loaded, "images", "-q", "--no-trunc", "app:1"); strings.TrimSpace(out) != want {
		t.Errorf("loaded image %q, want %s", out, want)
	}
	u.must(t, ubin, nil, "rmi", "committed:1", "imported:1")
	u.must(t, ubin, nil, "image", "prune", "-f")
	u.must(t, ubin, nil, "analyze", "app:1")

	// push, and a pull then push of root's push: the same digests.
	u.must(t, ubin, nil, "tag", "app:1", reg.Host+"/app:user")
	userPush := pushedDigest.FindStringSubmatch(u.must(t, ubin, nil, "push", reg.Host+"/app:user"))
	must(t, root, "tag", "app:1", reg.Host+"/app:root")
	rootPush := pushedDigest.FindStringSubmatch(must(t, root, "push", reg.Host+"/app:root"))
	if userPush == nil || rootPush == nil || userPush[1] != rootPush[1] {
		t.Errorf("pushed manifests: user %v, root %v", userPush, rootPush)
	}
	other := filepath.Join(u.home, "other-store")
	u.must(t, ubin, nil, "--root", other, "pull", reg.Host+"/app:root")
	u.must(t, ubin, nil, "--root", other, "tag", reg.Host+"/app:root", reg.Host+"/app:again")
	again := pushedDigest.FindStringSubmatch(u.must(t, ubin, nil, "--root", other, "push", reg.Host+"/app:again"))
	if again == nil || rootPush == nil || again[1] != rootPush[1] {
		t.Errorf("pull then push: %v, want %v", again, rootPush)
	}
	if out := u.must(t, ubin, nil, "--root", other, "run", "--rm", "--network", "none", reg.Host+"/app:root", "cat", "/scratch/id"); out != "1000\n" {
		t.Errorf("run of the pulled image: %q", out)
	}
	u.must(t, ubin, nil, "system", "prune", "-a", "-f")

	// No subordinate range: one line, nothing made.
	n := newUser(t, dir, "strn"+suffix, false)
	out, errOut, code := n.strata(t, ubin, nil, "images")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 1 || out != "" || len(lines) != 1 || !strings.Contains(errOut, "/etc/subuid") ||
		!strings.Contains(errOut, "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "+n.name) {
		t.Errorf("no range: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(n.home, ".local")); !os.IsNotExist(err) {
		t.Errorf("the user without a range got a store: %v", err)
	}
	if v, _, code := n.strata(t, ubin, nil, "version"); code != 0 || !strings.Contains(v, "strata version") {
		t.Errorf("version without a range: %d %q", code, v)
	}
}

// rootlessNetwork checks a rootless container's default network: slirp4netns
// with a published port where the user can open /dev/net/tun, else the
// host's network, said in one line.
func rootlessNetwork(t *testing.T, u *user, ubin string) {
	fi, err := os.Stat("/dev/net/tun")
	_, lookErr := exec.LookPath("slirp4netns")
	if err != nil || fi.Mode().Perm()&0o006 != 0o006 || lookErr != nil {
		_, errOut, code := u.strata(t, ubin, nil, "run", "--rm", "app:1", "true")
		if code != 0 || !strings.Contains(errOut, "uses the host's network") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("run without slirp4netns: exit %d, stderr %q", code, errOut)
		}
		return
	}
	port := strconv.Itoa(registrytest.FreePort(t))
	u.must(t, ubin, nil, "run", "-d", "--name", "web", "-u", "0", "-p", "127.0.0.1:"+port+":8080", "app:1", "httpd", "-f", "-p", "8080", "-h", "/data")
	defer u.strata(t, ubin, nil, "rm", "-f", "web")
	var body string
	for i := 0; i < 50 && body == ""; i++ {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/f"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if body != "hi\n" {
		t.Errorf("GET through the published port: %q", body)
	}
	if out := u.must(t, ubin, nil, "port", "web"); out != "8080/tcp -> 127.0.0.1:"+port+"\n" {
		t.Errorf("port: %q", out)
	}
}
