package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/runtime"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/testutil"
)

// runtimes are the OCI runtimes every test runs against (scripts/test.sh
// installs both).
var runtimes = []string{"runc", "crun"}

// fixture is a busybox root filesystem and an executor on one runtime.
type fixture struct {
	e      *OCI
	base   string // the busybox tree
	bundle string
	// id is the container's, unique: the runtimes name its cgroups
	// after it, which all tests share.
	id string
}

func newFixture(t *testing.T, rt string) *fixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount and run containers")
	}
	dir := t.TempDir()
	r, err := runtime.Find(rt, filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "busybox")
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := layer.Apply(context.Background(), base, bytes.NewReader(testutil.BusyboxTar(t)), layer.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var id [8]byte
	rand.Read(id[:])
	f := &fixture{e: New(r), base: base, bundle: filepath.Join(dir, "bundle"), id: "strata-test-" + hex.EncodeToString(id[:])}
	t.Cleanup(func() { f.checkClean(t) })
	return f
}

// spec runs args as root in / of the busybox tree, bind-mounted.
func (f *fixture) spec(args ...string) Spec {
	return Spec{
		ID: f.id, Bundle: f.bundle,
		Rootfs:  []snapshot.Mount{{Type: "bind", Source: f.base, Options: []string{"rbind"}}},
		Process: Process{Args: args, Env: []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin"}, Cwd: "/"},
		Network: "none",
	}
}

// run runs s and returns its exit status and output.
func (f *fixture) run(t *testing.T, s Spec) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	s.Stdio.Stdout, s.Stdio.Stderr = &stdout, &stderr
	code, err := f.e.Run(context.Background(), s)
	if err != nil {
		t.Fatalf("run %v: %v\n%s", s.Process.Args, err, stderr.String())
	}
	return code, stdout.String(), stderr.String()
}

// checkClean fails if a run left its mount, its bundle or the runtime's
// state of the container.
func (f *fixture) checkClean(t *testing.T) {
	t.Helper()
	if snapshot.Mounted(filepath.Join(f.bundle, "rootfs")) {
		t.Errorf("the rootfs is still mounted")
		snapshot.Unmount(filepath.Join(f.bundle, "rootfs"))
	}
	if _, err := os.Stat(f.bundle); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(f.bundle)
		t.Errorf("the bundle is left: %v %v", err, entries)
	}
	states, _ := os.ReadDir(f.e.rt.Root)
	if len(states) > 0 {
		t.Errorf("the runtime keeps state of %v", states)
		for _, s := range states {
			f.e.rt.Delete(s.Name(), true)
		}
	}
}

func forEachRuntime(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) { test(t, newFixture(t, rt)) })
	}
}

// TestRunProcess checks what the process is given and what comes back
// from it.
func TestRunProcess(t *testing.T) {
	for _, c := range []struct {
		name       string
		edit       func(s *Spec, f *fixture)
		args       []string
		stdin      string
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{name: "exit status", args: []string{"sh", "-c", "exit 3"}, wantCode: 3},
		{name: "stdout and stderr apart", args: []string{"sh", "-c", "echo out; echo err >&2"}, wantOut: "out\n", wantErrOut: "err\n"},
		{name: "stdin", args: []string{"sh", "-c", "tr a-z A-Z"}, stdin: "hello\n", wantOut: "HELLO\n"},
		{name: "environment", args: []string{"sh", "-c", "echo $FOO $BAR"}, wantOut: "1 two words\n",
			edit: func(s *Spec, f *fixture) { s.Process.Env = append(s.Process.Env, "FOO=1", "BAR=two words") }},
		{name: "working directory", args: []string{"pwd"}, wantOut: "/tmp\n",
			edit: func(s *Spec, f *fixture) { s.Process.Cwd = "/tmp" }},
		{name: "user and groups", args: []string{"sh", "-c", "id -u; id -g; id -G"}, wantOut: "65534\n65534\n65534 50\n",
			edit: func(s *Spec, f *fixture) {
				s.Process.UID, s.Process.GID, s.Process.Groups = 65534, 65534, []uint32{50}
			}},
		{name: "root by default", args: []string{"id", "-u"}, wantOut: "0\n"},
		{name: "no network: only loopback", args: []string{"sh", "-c", "ls /sys/class/net"}, wantOut: "lo\n"},
		{name: "pid namespace", args: []string{"sh", "-c", "echo $$"}, wantOut: "1\n"},
		{name: "program not found", args: []string{"/no/such"}, wantCode: -1},
		{name: "extra mount", args: []string{"sh", "-c", "cat /data/f; touch /data/g"}, wantCode: 1, wantOut: "mounted\n",
			edit: func(s *Spec, f *fixture) {
				dir := filepath.Join(filepath.Dir(s.Bundle), "data")
				os.Mkdir(dir, 0o755)
				os.WriteFile(filepath.Join(dir, "f"), []byte("mounted\n"), 0o644)
				s.Mounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachRuntime(t, func(t *testing.T, f *fixture) {
				s := f.spec(c.args...)
				if c.edit != nil {
					c.edit(&s, f)
				}
				if c.stdin != "" {
					s.Stdio.Stdin = strings.NewReader(c.stdin)
				}
				code, out, errOut := f.run(t, s)
				if c.wantCode == -1 {
					// runc and crun differ in their status and message
					// for a program they cannot start: not 0 is all.
					if code == 0 {
						t.Errorf("exit 0 for a missing program")
					}
					return
				}
				if code != c.wantCode || out != c.wantOut || (c.wantErrOut != "" && errOut != c.wantErrOut) {
					t.Errorf("got exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, c.wantCode, c.wantOut, c.wantErrOut)
				}
			})
		})
	}
}

// TestEtcFiles checks /etc/hosts, /etc/hostname and /etc/resolv.conf of
// both policies, and that none of them is written into the rootfs.
func TestEtcFiles(t *testing.T) {
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	show := []string{"sh", "-c", "hostname; cat /etc/hostname /etc/hosts; cmp -s /etc/resolv.conf /host-resolv && echo same resolv; echo x >> /etc/hosts && echo hosts writable"}
	for _, c := range []struct {
		name    string
		spec    func(s *Spec, etcDir string)
		want    string
		wantEtc string // /etc/hosts in EtcDir after the run ("" = not checked)
	}{
		{
			name: "build sandbox",
			spec: func(s *Spec, etcDir string) {},
			want: "buildkitsandbox\nbuildkitsandbox\n127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\nsame resolv\n",
		},
		{
			name: "build sandbox, hostname given",
			spec: func(s *Spec, etcDir string) { s.Hostname = "builder" },
			want: "builder\nbuilder\n127.0.0.1\tlocalhost builder\n::1\tlocalhost ip6-localhost ip6-loopback\nsame resolv\n",
		},
		{
			name: "container without network",
			spec: func(s *Spec, etcDir string) {
				s.Etc, s.EtcDir, s.Hostname = ContainerEtc, etcDir, "abc123"
				if err := WriteContainerEtc(etcDir, "abc123", "none", "", DNS{}); err != nil {
					panic(err)
				}
			},
			want:    "abc123\nabc123\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\tabc123\nsame resolv\nhosts writable\n",
			wantEtc: "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\tabc123\nx\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachRuntime(t, func(t *testing.T, f *fixture) {
				if err := os.WriteFile(filepath.Join(f.base, "host-resolv"), hostResolv, 0o644); err != nil {
					t.Fatal(err)
				}
				etcDir := t.TempDir()
				s := f.spec(show...)
				c.spec(&s, etcDir)
				_, out, errOut := f.run(t, s)
				if out != c.want {
					t.Errorf("got\n%s\nwant\n%s\n%s", out, c.want, errOut)
				}
				if c.wantEtc != "" {
					if b, _ := os.ReadFile(filepath.Join(etcDir, "hosts")); string(b) != c.wantEtc {
						t.Errorf("the container's hosts file holds %q, want %q", b, c.wantEtc)
					}
				}
				for _, name := range etcFiles {
					if _, err := os.Lstat(filepath.Join(f.base, "etc", name)); err == nil {
						if b, _ := os.ReadFile(filepath.Join(f.base, "etc", name)); len(b) > 0 {
							t.Errorf("/etc/%s was written into the rootfs: %q", name, b)
						}
					}
				}
			})
		})
	}
}

// TestHostNetwork: with the host's network the container sees the host's
// interfaces.
func TestHostNetwork(t *testing.T) {
	host, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skip(err)
	}
	// Bridged containers of tests running meanwhile come and go as veth
	// interfaces: the others are the host's.
	lasting := func(names []string) string {
		var out []string
		for _, n := range names {
			if !strings.HasPrefix(n, "veth") {
				out = append(out, n)
			}
		}
		return strings.Join(out, " ")
	}
	var want []string
	for _, e := range host {
		want = append(want, e.Name())
	}
	forEachRuntime(t, func(t *testing.T, f *fixture) {
		s := f.spec("ls", "/sys/class/net")
		s.Network = "host"
		if _, out, _ := f.run(t, s); strings.Fields(out) == nil || lasting(strings.Fields(out)) != lasting(want) {
			t.Errorf("interfaces %q, want the host's %q", out, want)
		}
	})
}

// TestOverlayRootfs runs on an overlay snapshot: the command's writes go
// to the upper directory, the lower is untouched.
func TestOverlayRootfs(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, f *fixture) {
		for _, volatile := range []bool{false, true} {
			dir := t.TempDir()
			upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
			os.Mkdir(upper, 0o755)
			os.Mkdir(work, 0o755)
			s := f.spec("sh", "-c", "echo new > /etc/new; rm /etc/group")
			s.Rootfs = []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + f.base, "upperdir=" + upper, "workdir=" + work}}}
			s.Volatile = volatile
			if code, _, errOut := f.run(t, s); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if b, err := os.ReadFile(filepath.Join(upper, "etc", "new")); err != nil || string(b) != "new\n" {
				t.Errorf("volatile %v: upper /etc/new: %q %v", volatile, b, err)
			}
			if _, err := os.Stat(filepath.Join(f.base, "etc", "group")); err != nil {
				t.Errorf("volatile %v: the lower dir lost /etc/group: %v", volatile, err)
			}
			if fi, err := os.Lstat(filepath.Join(upper, "etc", "group")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("volatile %v: no whiteout of /etc/group in the upper dir: %v %v", volatile, fi, err)
			}
			if _, err := os.Stat(filepath.Join(f.base, "etc", "new")); err == nil {
				t.Errorf("volatile %v: the lower dir was written", volatile)
			}
		}
	})
}

// TestPrepare: Prepare sees the mounted rootfs and fills in the process;
// its error ends the run with nothing left.
func TestPrepare(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, f *fixture) {
		s := f.spec("id", "-u")
		s.Prepare = func(rootfs string, p *Process) error {
			b, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
			if err != nil {
				return err
			}
			if strings.Contains(string(b), "nobody:x:65534") {
				p.UID = 65534
			}
			return nil
		}
		if _, out, _ := f.run(t, s); out != "65534\n" {
			t.Errorf("got %q, want the uid Prepare set", out)
		}
		refused := errors.New("no such user")
		s.Prepare = func(rootfs string, p *Process) error { return refused }
		if code, err := f.e.Run(context.Background(), s); !errors.Is(err, refused) || code != 0 {
			t.Errorf("got %d, %v; want Prepare's error", code, err)
		}
	})
}

// TestCancel: cancelling the context kills the container, at any point
// of its start, and leaves no runtime state, mount or bundle behind (the
// fixture's cleanup checks).
func TestCancel(t *testing.T) {
	for _, when := range []string{"running", "before the runtime starts"} {
		t.Run(when, func(t *testing.T) {
			forEachRuntime(t, func(t *testing.T, f *fixture) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s := f.spec("sleep", "1000")
				started := false
				if when == "running" {
					s.Started = func() { started = true; cancel() }
				} else {
					s.Prepare = func(string, *Process) error { cancel(); return nil }
				}
				code, err := f.e.Run(ctx, s)
				if !errors.Is(err, context.Canceled) || code != 0 {
					t.Errorf("got %d, %v; want context.Canceled", code, err)
				}
				if when == "running" && !started {
					t.Errorf("Started was not called")
				}
			})
		})
	}
}

// TestSignals: a signal given to Signals reaches the container's process.
func TestSignals(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, f *fixture) {
		sigs := make(chan os.Signal, 1)
		s := f.spec("sh", "-c", "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done")
		s.Signals = sigs
		// Sent once the trap is set: a signal the shell (pid 1) has no
		// handler for is ignored.
		s.Stdio.Stdout = writerFunc(func(b []byte) (int, error) {
			if strings.Contains(string(b), "ready") {
				sigs <- syscall.SIGTERM
			}
			return len(b), nil
		})
		var stderr bytes.Buffer
		s.Stdio.Stderr = &stderr
		if code, err := f.e.Run(context.Background(), s); err != nil || code != 7 {
			t.Errorf("exit %d, %v; want 7 from the TERM trap: %s", code, err, stderr.String())
		}
	})
}

// TestKilled: a process killed by a signal exits 128+n.
func TestKilled(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, f *fixture) {
		s := f.spec("sh", "-c", "echo running; sleep 1000")
		// Killed once it runs: a kill while the runtime still sets the
		// container up fails the runtime instead.
		s.Stdio.Stdout = writerFunc(func(b []byte) (int, error) {
			if strings.Contains(string(b), "running") {
				go f.e.rt.Kill(s.ID, "KILL")
			}
			return len(b), nil
		})
		if code, err := f.e.Run(context.Background(), s); err != nil || code != 128+9 {
			t.Errorf("exit %d, %v; want 137", code, err)
		}
	})
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

// TestLeftoverState: a container state a crashed run left under the same
// ID does not stop the next run.
func TestLeftoverState(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, f *fixture) {
		s := f.spec("true")
		// Leave a created (never started) container of that ID.
		spec, err := runtime.Spec(runtime.Options{ID: s.ID, Rootfs: f.base, Process: runtime.Process{Args: []string{"/bin/true"}, Cwd: "/"}, Network: "none"})
		if err != nil {
			t.Fatal(err)
		}
		left := filepath.Join(t.TempDir(), "left")
		os.Mkdir(left, 0o755)
		if err := runtime.WriteBundle(left, spec); err != nil {
			t.Fatal(err)
		}
		create := f.e.rt.Command("create", "--bundle", left, s.ID)
		// A file, not a pipe: the created container's init keeps its
		// stdio open.
		out, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		create.Stdout, create.Stderr = out, out
		if err := f.e.rt.Start(create); err != nil {
			t.Fatal(err)
		}
		if err := create.Wait(); err != nil {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("create: %v %s", err, b)
		}
		if code, _, errOut := f.run(t, s); code != 0 {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}
