package container

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/container/containertest"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/runtime"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/testutil"
)

// env is a store with the busybox image and a manager on one driver.
type env struct {
	st *store.Store
	m  *Manager
}

func newEnv(t *testing.T, driver string) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := runtime.Find("", ""); err != nil {
		t.Skip(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	containertest.BusyboxImage(t, st, "busybox")
	m, err := New(st, driver, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rs, _ := m.List()
		for _, r := range rs {
			m.Remove(r, true)
		}
		checkNoMounts(t, st.Root)
	})
	return &env{st, m}
}

// checkNoMounts fails if anything is mounted under root.
func checkNoMounts(t *testing.T, root string) {
	t.Helper()
	raw, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(raw), root) {
		t.Errorf("mounts left under %s:\n%s", root, raw)
	}
}

func (e *env) records(t *testing.T) int {
	rs, err := e.m.List()
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

// run creates and runs a container in the foreground.
func (e *env) run(t *testing.T, o CreateOptions) (stdout, stderr string, code int, err error) {
	t.Helper()
	if o.Image == "" {
		o.Image = "busybox"
	}
	r, err := e.m.Create(t.Context(), o)
	if err != nil {
		return "", "", 125, err
	}
	var out, errb bytes.Buffer
	err = e.m.Start(r, Stdio{Stdout: &out, Stderr: &errb})
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			err = nil
		}
	}
	return out.String(), errb.String(), code, err
}

var drivers = []string{"overlay", "vfs"}

func TestRun(t *testing.T) {
	cases := []struct {
		name     string
		o        CreateOptions
		wantOut  string
		wantCode int
		wantErr  string
		started  bool // failed at start: the record exists (run --rm removes it)
	}{
		{name: "echo", o: CreateOptions{Args: []string{"echo", "hello"}}, wantOut: "hello\n"},
		{name: "exit code", o: CreateOptions{Args: []string{"sh", "-c", "echo out; exit 3"}}, wantOut: "out\n", wantCode: 3},
		{name: "env and workdir", o: CreateOptions{Args: []string{"sh", "-c", "echo $FOO $HOME; pwd"}, Env: []string{"FOO=bar"}, WorkingDir: "/made/here"}, wantOut: "bar /root\n/made/here\n"},
		// docker 20.10 with these /etc/passwd and /etc/group: the primary
		// group too, and no memberships when a group is named.
		{name: "user by name", o: CreateOptions{Args: []string{"id"}, User: "nobody"}, wantOut: "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)\n"},
		{name: "user and group", o: CreateOptions{Args: []string{"id"}, User: "nobody:root"}, wantOut: "uid=65534(nobody) gid=0(root) groups=0(root)\n"},
		{name: "numeric user", o: CreateOptions{Args: []string{"id", "-u"}, User: "1234"}, wantOut: "1234\n"},
		{name: "hostname", o: CreateOptions{Args: []string{"sh", "-c", "hostname; cat /etc/hostname"}, Hostname: "box"}, wantOut: "box\nbox\n"},
		{name: "network none", o: CreateOptions{Args: []string{"sh", "-c", "ls /sys/class/net"}, Network: "none"}, wantOut: "lo\n"},
		{name: "entrypoint", o: CreateOptions{Args: []string{"a", "b"}, Entrypoint: ptr("echo")}, wantOut: "a b\n"},
		{name: "pid 1", o: CreateOptions{Args: []string{"sh", "-c", "echo $$"}}, wantOut: "1\n"},
		{name: "proc dev shm", o: CreateOptions{Args: []string{"sh", "-c", "test -e /proc/self/status && test -c /dev/null && touch /dev/shm/x && echo ok"}}, wantOut: "ok\n"},
		{name: "not found", o: CreateOptions{Args: []string{"nosuch"}}, wantCode: 127, wantErr: `exec: "nosuch": executable file not found in $PATH`, started: true},
		{name: "not found path", o: CreateOptions{Args: []string{"/no/such"}}, wantCode: 127, wantErr: "no such file", started: true},
		{name: "not executable", o: CreateOptions{Args: []string{"/etc/passwd"}}, wantCode: 126, wantErr: "permission denied", started: true},
		{name: "a directory", o: CreateOptions{Args: []string{"/etc"}}, wantCode: 126, wantErr: "permission denied", started: true},
		{name: "unknown user", o: CreateOptions{Args: []string{"true"}, User: "nosuch"}, wantCode: 125, wantErr: "unable to find user nosuch", started: true},
		{name: "bad volume", o: CreateOptions{Args: []string{"true"}, Volumes: []string{"relative:/x"}}, wantCode: 125, wantErr: "invalid volume specification"},
		{name: "volume no target", o: CreateOptions{Args: []string{"true"}, Volumes: []string{"/tmp"}}, wantCode: 125, wantErr: "invalid volume specification"},
		{name: "unknown image", o: CreateOptions{Image: "nosuch", Args: []string{"true"}}, wantCode: 125, wantErr: "No such image"},
		{name: "bad network", o: CreateOptions{Args: []string{"true"}, Network: "bridge0"}, wantCode: 125, wantErr: "network bridge0 not found"},
	}
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					before := e.records(t)
					c.o.AutoRemove = true
					out, _, code, err := e.run(t, c.o)
					if c.wantErr == "" && err != nil {
						t.Fatal(err)
					}
					if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
						t.Fatalf("error %v, want %q", err, c.wantErr)
					}
					if out != c.wantOut || code != c.wantCode {
						t.Errorf("got %q exit %d, want %q exit %d", out, code, c.wantOut, c.wantCode)
					}
					if c.started {
						// Created, not started: run --rm removes it
						// (the CLI does).
						rs, _ := e.m.List()
						if len(rs) != before+1 {
							t.Fatalf("%d records, want %d", len(rs), before+1)
						}
						if err := e.m.Remove(rs[0], true); err != nil {
							t.Fatal(err)
						}
					}
					if n := e.records(t); n != before {
						t.Errorf("%d container records after, %d before", n, before)
					}
					checkNoMounts(t, e.st.Root)
				})
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestRunDefaultPath: an image with no PATH in its Env (an imported one,
// with or without other variables) runs with docker's default PATH first
// in the process's environment; the container's config keeps the image's
// Env as it is.
func TestRunDefaultPath(t *testing.T) {
	e := newEnv(t, "overlay")
	for _, c := range []struct {
		name, want string
		env        []string
	}{
		{name: "noenv", env: nil, want: "PATH=" + DefaultPath + "\n"},
		{name: "otherenv", env: []string{"FOO=bar"}, want: "PATH=" + DefaultPath + "\nFOO=bar\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			containertest.AddImage(t, e.st, nil, c.name, func(o *store.NewImageOptions) {
				o.Config = func(cf *image.ConfigFile) error { cf.Config.Env = c.env; return nil }
			}, testutil.BusyboxTar(t))
			r, err := e.m.Create(t.Context(), CreateOptions{Image: c.name, Args: []string{"sh", "-c", "env | grep -E '^(PATH|FOO)=' "}, AutoRemove: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Config.Env, c.env) {
				t.Errorf("config Env %q, want the image's %q", r.Config.Env, c.env)
			}
			var out bytes.Buffer
			if err := e.m.Start(r, Stdio{Stdout: &out, Stderr: &out}); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if out.String() != c.want {
				t.Errorf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}

func TestVolumes(t *testing.T) {
	e := newEnv(t, "overlay")
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host"), 0o644)
	out, _, code, err := e.run(t, CreateOptions{
		Args:    []string{"sh", "-c", "cat /data/in; echo x > /data/out; echo y > /ro/f || echo refused"},
		Volumes: []string{host + ":/data", host + ":/ro:ro"},
	})
	if err != nil || code != 0 || out != "from hostrefused\n" {
		t.Fatalf("%q %d %v", out, code, err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "x\n" {
		t.Fatalf("volume write: %q", b)
	}
}

// checksums hashes every committed snapshot's files.
func checksums(t *testing.T, sn snapshot.Snapshotter) map[string]string {
	out := map[string]string{}
	sn.Walk(func(in snapshot.Info) error {
		if in.Kind != snapshot.KindCommitted {
			return nil
		}
		d, _ := sn.Dir(in.Name)
		h := sha256.New()
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			var st unix.Stat_t
			unix.Lstat(p, &st)
			fmt.Fprintf(h, "%s %o %d %d %d\n", p, st.Mode, st.Uid, st.Size, st.Mtim.Nano())
			if de.Type().IsRegular() {
				b, _ := os.ReadFile(p)
				h.Write(b)
			}
			return nil
		})
		out[in.Name] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return out
}

// changeScript writes, deletes and chmods files; /etc/hosts and friends
// are written through their bind mounts and must not show.
const changeScript = `echo new > /etc/added; echo changed >> /etc/passwd; rm /bin/ls; chmod 700 /root; mkdir -p /usr/sbin/x; touch /usr/sbin/x/y; mkdir /empty; echo 1.2.3.4 x >> /etc/hosts`

var wantDiff = []string{
	"C /bin", "D /bin/ls", "A /empty", "C /etc", "A /etc/added", "C /etc/passwd", "C /root",
	"C /usr", "C /usr/sbin", "A /usr/sbin/x", "A /usr/sbin/x/y",
}

func TestDiffCommitImageUnchanged(t *testing.T) {
	layers := map[string][]string{}
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d)
			// Unpack first (a container that does nothing), then sum.
			if _, _, code, err := e.run(t, CreateOptions{Args: []string{"true"}, AutoRemove: true}); err != nil || code != 0 {
				t.Fatal(code, err)
			}
			before := checksums(t, e.m.SN)
			r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"sh", "-c", changeScript}})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.m.Start(r, Stdio{Stdout: io.Discard, Stderr: os.Stderr}); err != nil {
				t.Fatal(err)
			}
			cs, err := e.m.Diff(r)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.String())
			}
			if strings.Join(got, "\n") != strings.Join(wantDiff, "\n") {
				t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantDiff, "\n"))
			}
			if after := checksums(t, e.m.SN); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("image snapshots changed under a container")
			}
			im, err := e.m.Commit(r, CommitOptions{Message: "msg", Author: "me", Changes: []string{"ENV A=b"}, Ref: "committed:" + d})
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Layers) != 2 {
				t.Fatalf("committed image has %d layers", len(im.Layers))
			}
			layers[d] = tarNames(t, e.st, im.Layers[1].Digest.String())
			cfg, _, _ := e.st.Config(im)
			h := cfg.History[len(cfg.History)-1]
			if h.Comment != "msg" || h.Author != "me" || !strings.Contains(h.CreatedBy, "sh -c echo new") {
				t.Errorf("history %+v", h)
			}
			out, _, code, err := e.run(t, CreateOptions{Image: "committed:" + d, AutoRemove: true,
				Args: []string{"sh", "-c", "cat /etc/added; tail -1 /etc/passwd; ls /bin/ls 2>&1 | grep -c 'No such'; ls /usr/sbin/x; echo $A"}})
			if err != nil || code != 0 || out != "new\nchanged\n1\ny\nb\n" {
				t.Errorf("committed image runs: %q %d %v", out, code, err)
			}
		})
	}
	// Both drivers write the same entries (times of new files differ).
	if fmt.Sprint(layers["overlay"]) != fmt.Sprint(layers["vfs"]) {
		t.Errorf("layers differ:\noverlay %v\nvfs     %v", layers["overlay"], layers["vfs"])
	}
}

// tarNames lists a layer blob's entries.
func tarNames(t *testing.T, st *store.Store, d string) []string {
	f, err := os.Open(filepath.Join(st.Root, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
	if err != nil {
		f2, err2 := st.Content.Open(digestOf(d))
		if err2 != nil {
			t.Fatal(err, err2)
		}
		f = f2
	}
	defer f.Close()
	dr, _, _ := layer.Decompress(f)
	tr := tar.NewReader(dr)
	var out []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, h.Name)
	}
	sort.Strings(out)
	return out
}

func TestRmiRefusedAndGC(t *testing.T) {
	e := newEnv(t, "overlay")
	r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Remove("busybox", false); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("rmi of a used image: %v", err)
	}
	if _, err := e.st.Remove("busybox", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GC(true); err != nil {
		t.Fatal(err)
	}
	// Untagged but kept, with its snapshots: the container still runs.
	if err := e.m.Start(r, Stdio{Stdout: io.Discard, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Remove(r, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Remove(r.Image.String(), false); err != nil {
		t.Fatal(err)
	}
	// A crashed unpack's leftovers go too.
	if _, err := e.m.SN.Prepare("unpack-crashed", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GC(true); err != nil {
		t.Fatal(err)
	}
	n := 0
	e.m.SN.Walk(func(in snapshot.Info) error { n++; t.Log(in.Name); return nil })
	if n != 0 {
		t.Fatalf("%d snapshots left after the image and container went", n)
	}
}

func TestDeepImage(t *testing.T) {
	e := newEnv(t, "overlay")
	base, _ := e.st.Resolve("busybox")
	var tars [][]byte
	for i := 0; i < 149; i++ {
		tars = append(tars, testutil.Tar(t, testutil.File("deep/top", fmt.Sprint(i)), testutil.File(fmt.Sprintf("deep/l%03d", i), "")))
	}
	im := containertest.AddImage(t, e.st, base, "deep:150", nil, tars...)
	if len(im.Layers) != 150 {
		t.Fatalf("%d layers", len(im.Layers))
	}
	out, _, code, err := e.run(t, CreateOptions{Image: "deep:150", Args: []string{"sh", "-c", "cat /deep/top; ls /deep | wc -l"}, AutoRemove: true})
	if err != nil || code != 0 || out != "148150\n" {
		t.Fatalf("%q %d %v", out, code, err)
	}
}

func TestCopyAndExport(t *testing.T) {
	e := newEnv(t, "overlay")
	r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"sh", "-c",
		"echo secret-in-ctr > /etc/shadow; ln -s ../../../../../../etc /escape; ln -s /etc/shadow /abs"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Start(r, Stdio{Stdout: io.Discard, Stderr: os.Stderr}); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	cases := []struct{ src, want string }{
		{"/escape/shadow", "secret-in-ctr\n"}, // through a symlink that climbs: stays inside
		{"/escape/../etc/shadow", "secret-in-ctr\n"},
	}
	for _, c := range cases {
		dst := filepath.Join(host, "out")
		os.Remove(dst)
		if err := e.m.CopyFrom(r, c.src, dst); err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if b, _ := os.ReadFile(dst); string(b) != c.want {
			t.Errorf("cp %s = %q", c.src, b)
		}
	}
	// A symlink itself is copied as a symlink, not followed.
	if err := e.m.CopyFrom(r, "/abs", filepath.Join(host, "abs")); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(host, "abs")); l != "/etc/shadow" {
		t.Errorf("symlink copied as %q", l)
	}
	// Into the container through a symlink pointing at the host's /etc:
	// lands in the container's /etc.
	src := filepath.Join(host, "newfile")
	os.WriteFile(src, []byte("n"), 0o644)
	if err := e.m.CopyTo(r, src, "/escape/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/newfile"); err == nil {
		os.Remove("/etc/newfile")
		t.Fatal("cp wrote to the host's /etc")
	}
	// Copying onto /abs (-> /etc/shadow) writes through the link, inside
	// the container, as cp does.
	if err := e.m.CopyTo(r, src, "/abs"); err != nil {
		t.Fatal(err)
	}
	var exp bytes.Buffer
	if err := e.m.Export(r, &exp); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(&exp)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
	if files["etc/newfile"] != "n" || files["etc/shadow"] != "n" || files["abs"] != "" || files["bin/busybox"] == "" {
		t.Errorf("export: newfile %q shadow %q abs %q", files["etc/newfile"], files["etc/shadow"], files["abs"])
	}
	checkNoMounts(t, e.st.Root)
}

// Two managers (as two processes would) share the snapshots of one image.
func TestSharedSnapshots(t *testing.T) {
	e := newEnv(t, "overlay")
	for i := 0; i < 3; i++ {
		if _, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	var committed, active int
	e.m.SN.Walk(func(in snapshot.Info) error {
		if in.Kind == snapshot.KindCommitted {
			committed++
		} else {
			active++
		}
		return nil
	})
	if committed != 1 || active != 3 {
		t.Fatalf("committed %d active %d, want 1 and 3", committed, active)
	}
	var rec metadata.Roots
	rs, _ := e.m.List()
	e.st.Meta.View(func(tx *metadata.Tx) error { return tx.Get(metadata.BucketContainers, rs[0].ID, &rec) })
	if len(rec.Images) != 1 || rec.Images[0] != rs[0].Image {
		t.Fatalf("record roots %+v", rec)
	}
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }

// A directory replaced by a new one: overlay makes it opaque (one opaque
// marker), the tree compare whites out each old child; both commit to an
// image with the same contents.
func TestReplacedDirectory(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t, d)
			r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"sh", "-c", "rm -rf /usr/sbin; mkdir -p /usr/sbin; touch /usr/sbin/only"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.m.Start(r, Stdio{Stdout: io.Discard, Stderr: os.Stderr}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.m.Commit(r, CommitOptions{Ref: "replaced"}); err != nil {
				t.Fatal(err)
			}
			out, _, code, err := e.run(t, CreateOptions{Image: "replaced", Args: []string{"ls", "/usr/sbin"}, AutoRemove: true})
			if err != nil || code != 0 || out != "only\n" {
				t.Fatalf("%q %d %v", out, code, err)
			}
		})
	}
}

// TestStateWithoutMonitor: a container whose monitor was killed (its
// state file still says running) is exited, with an exit code and a
// finish time that are not zero.
func TestStateWithoutMonitor(t *testing.T) {
	e := newEnv(t, "")
	r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if err := e.m.setState(r.ID, State{Status: Running, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := e.m.State(r.ID)
	if s.Status != Exited || s.ExitCode != 255 || s.FinishedAt.Before(before) {
		t.Errorf("state without a monitor: %+v", s)
	}
}

// TestCreateNames: a name in use is refused with docker's message, an
// unnamed container gets a random name no other has, and a new container
// reads as created (it has no state file yet).
func TestCreateNames(t *testing.T) {
	e := newEnv(t, "")
	first, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Name: "web", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := e.m.State(first.ID); s.Status != Created {
		t.Errorf("a new container is %q, want created", s.Status)
	}
	_, err = e.m.Create(t.Context(), CreateOptions{Image: "busybox", Name: "web", Args: []string{"true"}})
	want := `Conflict. The container name "/web" is already in use by container "` + first.ID + `"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second container named web: %v, want %s", err, want)
	}
	names := map[string]bool{"web": true}
	for i := 0; i < 3; i++ {
		r, err := e.m.Create(t.Context(), CreateOptions{Image: "busybox", Args: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Name == "" || names[r.Name] {
			t.Fatalf("unnamed container %d got name %q (taken: %v)", i, r.Name, names)
		}
		names[r.Name] = true
	}
}
