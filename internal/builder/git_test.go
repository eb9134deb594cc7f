package builder

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseGitSource(t *testing.T) {
	cases := []struct {
		src                 string
		git                 bool
		remote, ref, subdir string
		keep                bool
	}{
		{src: "https://github.com/foo/bar.git#v1:sub/dir", git: true, remote: "https://github.com/foo/bar.git", ref: "v1", subdir: "sub/dir"},
		{src: "https://example.com/file.tar.gz", git: false},
		{src: "http://example.com/repo", git: false},
		{src: "git://host/repo#main", git: true, remote: "git://host/repo", ref: "main"},
		{src: "git@github.com:foo/bar.git#dev", git: true, remote: "git@github.com:foo/bar.git", ref: "dev"},
		{src: "ssh://git@host/foo.git", git: true, remote: "ssh://git@host/foo.git"},
		{src: "https://host/r.git?tag=v2&subdir=x&keep-git-dir=1", git: true, remote: "https://host/r.git", ref: "refs/tags/v2", subdir: "x", keep: true},
		{src: "file:///tmp/repo.git", git: false},
		{src: "./repo.git", git: false},
		{src: "src/", git: false},
		{src: "a.tar.gz", git: false},
	}
	for _, c := range cases {
		g, ok, err := parseGitSource(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if ok != c.git {
			t.Errorf("%s: git=%v, want %v", c.src, ok, c.git)
			continue
		}
		if !ok {
			continue
		}
		if g.remote != c.remote || g.ref != c.ref || g.subdir != c.subdir || g.keep != c.keep {
			t.Errorf("%s: got %+v", c.src, g)
		}
	}
	if _, ok, err := parseGitSource("https://host/r.git?tag=a&branch=b"); !ok || err == nil {
		t.Errorf("tag and branch: want an error")
	}
}

// gitRepo is a repository served by git daemon on loopback.
type gitRepo struct {
	t    *testing.T
	work string // a clone that pushes to the served bare repository
	url  string // git://127.0.0.1:PORT/repo.git
	log  string // git daemon's log
}

// requests counts the connections the daemon served.
func (r *gitRepo) requests() int {
	b, _ := os.ReadFile(r.log)
	return strings.Count(string(b), "Request upload-pack")
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newGitRepo(t *testing.T) *gitRepo {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git binary")
	}
	work := t.TempDir()
	writeTree(t, work, map[string]string{
		"README": "hello\n", "bin/run.sh": "#!/bin/sh\necho run\n", "sub/a.txt": "a\n", "sub/deep/b.txt": "b\n",
	})
	os.Chmod(filepath.Join(work, "bin/run.sh"), 0o755)
	os.Symlink("README", filepath.Join(work, "link"))
	git(t, work, "init", "-q")
	git(t, work, "add", ".")
	git(t, work, "commit", "-q", "-m", "one")
	git(t, work, "tag", "-a", "-m", "v1", "v1")
	git(t, work, "checkout", "-q", "-b", "dev")
	base := t.TempDir()
	git(t, base, "clone", "-q", "--bare", work, "repo.git")
	git(t, work, "remote", "add", "origin", filepath.Join(base, "repo.git"))

	port := freePort(t)
	cmd := exec.Command("git", "daemon", "--export-all", "--base-path="+base, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--reuseaddr", "--verbose", base)
	log := filepath.Join(t.TempDir(), "daemon.log")
	lf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("git daemon does not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &gitRepo{t: t, work: work, url: "git://" + addr + "/repo.git", log: log}
}

// commit adds a file on dev and pushes it; it returns the new commit.
func (r *gitRepo) commit(name, content string) string {
	writeTree(r.t, r.work, map[string]string{name: content})
	git(r.t, r.work, "add", ".")
	git(r.t, r.work, "commit", "-q", "-m", "more")
	git(r.t, r.work, "push", "-q", "origin", "dev")
	return git(r.t, r.work, "rev-parse", "HEAD")
}

func (e *env) files(t *testing.T, res *Result) string {
	t.Helper()
	im, err := e.st.Image(res.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := imageFS(e.st, im)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(fs.Diff(emptyFS()), "\n") + "\n"
}

// TestAddGit: ADD of a git repository at a tag and at a branch#ref:subdir,
// served by git daemon: the files and modes, a cache hit on rebuild
// without fetching, a miss explained when the branch moves, and
// --keep-git-dir.
func TestAddGit(t *testing.T) {
	r := newGitRepo(t)
	df := "FROM scratch\n" +
		"ADD " + r.url + "#v1 /src\n" +
		"ADD --chown=1:2 " + r.url + "#dev:sub /sub/\n"
	e := newEnv(t, map[string]string{"Dockerfile": df})
	res, out, err := e.build(Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files := e.files(t, res)
	for _, want := range []string{
		"+ /src dir 0755 0:0\n",
		"+ /src/README file 0644 0:0 6 ",
		"+ /src/bin dir 0755 0:0\n",
		"+ /src/bin/run.sh file 0755 0:0 ",
		"+ /src/link symlink 0:0 -> README\n",
		"+ /src/sub/deep/b.txt file 0644 0:0 2 ",
		"+ /sub dir 0755 1:2\n",
		"+ /sub/a.txt file 0644 1:2 2 ",
		"+ /sub/deep dir 0755 1:2\n",
		"+ /sub/deep/b.txt file 0644 1:2 2 ",
	} {
		if !strings.Contains(files, want) {
			t.Errorf("missing %q in\n%s", want, files)
		}
	}
	if strings.Contains(files, ".git") || strings.Contains(files, "/sub/README") {
		t.Errorf("unexpected files:\n%s", files)
	}

	// Unchanged refs: every step cached, same image, nothing fetched
	// (one ls-remote per source).
	before := r.requests()
	res2, out2, err := e.build(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Built != 0 || res2.ImageID != res.ImageID {
		t.Fatalf("rebuild: %+v (was %s)\n%s", res2, res.ImageID, out2)
	}
	if n := r.requests() - before; n != 2 {
		t.Fatalf("a cached rebuild made %d requests, want 2 (ls-remote only); first build made %d", n, before)
	}

	// The branch moves: the tag's step hits, the branch's misses and says
	// why.
	old := git(t, r.work, "rev-parse", "HEAD")
	now := r.commit("sub/new.txt", "new\n")
	res3, out3, err := e.build(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res3.Cached != 1 || res3.Built != 1 {
		t.Fatalf("after a commit: %+v\n%s", res3, out3)
	}
	why := fmt.Sprintf("cache miss: git ref %s#dev moved from %s to %s", r.url, old[:12], now[:12])
	t.Log(why)
	if !strings.Contains(out3, why) {
		t.Fatalf("no %q in\n%s", why, out3)
	}
	if !strings.Contains(e.files(t, res3), "+ /sub/new.txt file 0644 1:2 4 ") {
		t.Fatalf("the new commit's file is missing")
	}

	// --keep-git-dir keeps .git, at the commit asked for.
	e2 := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nADD --keep-git-dir=true " + r.url + "#v1 /k/\n"})
	res4, out4, err := e2.build(Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out4)
	}
	f4 := e2.files(t, res4)
	if !strings.Contains(f4, "+ /k/.git/HEAD file ") || !strings.Contains(f4, "+ /k/README file 0644 0:0 6 ") {
		t.Fatalf("--keep-git-dir:\n%s", f4)
	}

	// --checksum names the commit.
	tagCommit := git(t, r.work, "rev-parse", "v1^{commit}")
	e3 := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nADD --checksum=" + tagCommit + " " + r.url + "#v1 /c/\n"})
	if _, out, err := e3.build(Options{}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// A commit ID as the ref is fetched as such, without ls-remote.
	e4 := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nADD " + r.url + "#" + tagCommit + ":sub /c/\n"})
	res5, out5, err := e4.build(Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out5)
	}
	if f := e4.files(t, res5); !strings.Contains(f, "+ /c/a.txt file 0644 0:0 2 ") || strings.Contains(f, "new.txt") {
		t.Fatalf("ADD at a commit:\n%s", f)
	}
}

// TestAddGitReproducible: with a timestamp, two fresh builds of the same
// commit give the same image, whatever the checkout time.
func TestAddGitReproducible(t *testing.T) {
	r := newGitRepo(t)
	ts := time.Unix(1700000000, 0).UTC()
	var first string
	for i := 0; i < 2; i++ {
		e := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nADD " + r.url + "#v1 /src\n"})
		res, out, err := e.build(Options{Timestamp: &ts})
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if first != "" && string(res.ImageID) != first {
			t.Fatalf("image IDs differ: %s, %s", first, res.ImageID)
		}
		first = string(res.ImageID)
		time.Sleep(1100 * time.Millisecond)
	}
}

// TestAddGitErrors: a missing ref, a refused connection, an unknown host
// and a wrong checksum each fail with one line naming the Dockerfile line.
func TestAddGitErrors(t *testing.T) {
	r := newGitRepo(t)
	tagCommit := git(t, r.work, "rev-parse", "v1^{commit}")
	closed := fmt.Sprintf("git://127.0.0.1:%d/repo.git", freePort(t))
	cases := []struct{ name, src, want string }{
		{"missing ref", r.url + "#nope", `git ref "nope" not found`},
		{"missing subdir", r.url + "#v1:nothere", `subdirectory "nothere" not found`},
		{"refused", closed, "git ls-remote:"},
		{"unknown host", "git://no-such-host.invalid/repo.git", "git ls-remote:"},
		{"checksum", "--checksum=" + strings.Repeat("0", 40) + " " + r.url + "#v1", "checksum mismatch: want commit " + strings.Repeat("0", 40) + ", got " + tagCommit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nADD " + c.src + " /x/\n"})
			_, out, err := e.build(Options{})
			if err == nil {
				t.Fatalf("no error\n%s", out)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "Dockerfile:2:") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("got %q, want one line at Dockerfile:2 with %q", msg, c.want)
			}
		})
	}
}

// TestAddGitSubmodules: a repository's submodules are fetched at the
// commit it pins (relative URLs against the remote), their .git files
// dropped with the repository's; ?submodules=false leaves them empty.
func TestAddGitSubmodules(t *testing.T) {
	r := newGitRepo(t)
	base := filepath.Dir(filepath.Join(strings.TrimPrefix(git(t, r.work, "remote", "get-url", "origin"), "")))
	sub := t.TempDir()
	writeTree(t, sub, map[string]string{"lib.txt": "lib\n"})
	git(t, sub, "init", "-q")
	git(t, sub, "add", ".")
	git(t, sub, "commit", "-q", "-m", "lib")
	git(t, base, "clone", "-q", "--bare", sub, "sub.git")
	git(t, r.work, "submodule", "-q", "add", "../sub.git", "mod")
	git(t, r.work, "commit", "-q", "-m", "with a submodule")
	git(t, r.work, "push", "-q", "origin", "dev")

	e := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\n" +
		"ADD " + r.url + "#dev /with/\n" +
		"ADD " + r.url + "?ref=dev&submodules=false /without/\n"})
	res, out, err := e.build(Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files := e.files(t, res)
	if !strings.Contains(files, "+ /with/mod/lib.txt file 0644 0:0 4 ") || !strings.Contains(files, "+ /with/.gitmodules file ") {
		t.Errorf("submodule not fetched:\n%s", files)
	}
	if strings.Contains(files, ".git ") || strings.Contains(files, ".git/") || strings.Contains(files, "/without/mod/lib.txt") {
		t.Errorf("a .git left, or submodules=false fetched it:\n%s", files)
	}
	if !strings.Contains(files, "+ /without/mod dir ") {
		t.Errorf("submodules=false: the submodule's directory is missing:\n%s", files)
	}
}
