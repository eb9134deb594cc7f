package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/sandbox"
)

func TestSpec(t *testing.T) {
	t.Parallel()
	volume := specs.Mount{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "ro"}}
	for _, c := range []struct {
		name     string
		o        Options
		cgroups  bool
		netns    bool   // a network namespace of its own
		sys      string // the type of the /sys mount
		cgroupsP string
	}{
		{"no network", Options{ID: "c1", Network: "none"}, true, true, "sysfs", "/strata/c1"},
		{"host network", Options{ID: "c2", Network: "host"}, true, false, "bind", "/strata/c2"},
		{"empty network is its own namespace", Options{ID: "c3"}, true, true, "sysfs", "/strata/c3"},
		{"read-only cgroups: no cgroup path", Options{ID: "c4", Network: "none"}, false, true, "sysfs", ""},
		{"process and mounts", Options{
			ID: "c5", Rootfs: "/b/rootfs", Process: Process{Args: []string{"sh", "-c", "id"}, Env: []string{"A=1"}, Cwd: "/w",
				UID: 65534, GID: 50, Groups: []uint32{50, 65534}, Terminal: true}, Hostname: "h", Network: "host",
			Mounts: []specs.Mount{volume},
		}, true, false, "bind", "/strata/c5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := spec(c.o, c.cgroups)
			if err != nil {
				t.Fatal(err)
			}
			if s.Version != SpecVersion || s.Root.Path != c.o.Rootfs || s.Hostname != c.o.Hostname {
				t.Errorf("version %s root %v hostname %q", s.Version, s.Root, s.Hostname)
			}
			p := s.Process
			want := &specs.Process{Terminal: c.o.Terminal, Args: c.o.Args, Env: c.o.Env, Cwd: c.o.Cwd,
				User: specs.User{UID: c.o.UID, GID: c.o.GID, AdditionalGids: c.o.Groups}}
			want.Capabilities = p.Capabilities
			if !reflect.DeepEqual(p, want) {
				t.Errorf("process %+v, want %+v", p, want)
			}
			caps := p.Capabilities
			if len(caps.Bounding) != 14 || !reflect.DeepEqual(caps.Bounding, caps.Effective) || !reflect.DeepEqual(caps.Bounding, caps.Permitted) ||
				!slices.Contains(caps.Bounding, "CAP_CHOWN") || slices.Contains(caps.Bounding, "CAP_SYS_ADMIN") {
				t.Errorf("capabilities are not docker's defaults: %+v", caps)
			}
			var ns []specs.LinuxNamespaceType
			for _, n := range s.Linux.Namespaces {
				ns = append(ns, n.Type)
			}
			wantNS := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace}
			if c.netns {
				wantNS = append(wantNS, specs.NetworkNamespace)
			}
			if !reflect.DeepEqual(ns, wantNS) {
				t.Errorf("namespaces %v, want %v", ns, wantNS)
			}
			dests := map[string]specs.Mount{}
			for _, m := range s.Mounts {
				dests[m.Destination] = m
			}
			for _, d := range []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"} {
				if _, ok := dests[d]; !ok {
					t.Errorf("no %s mount", d)
				}
			}
			if m := dests["/sys"]; m.Type != c.sys || !slices.Contains(m.Options, "ro") {
				t.Errorf("/sys is %+v, want a read-only %s", m, c.sys)
			}
			if n := len(c.o.Mounts); n > 0 && !reflect.DeepEqual(s.Mounts[len(s.Mounts)-n:], c.o.Mounts) {
				t.Errorf("the given mounts are not last: %+v", s.Mounts)
			}
			if s.Linux.CgroupsPath != c.cgroupsP {
				t.Errorf("cgroups path %q, want %q", s.Linux.CgroupsPath, c.cgroupsP)
			}
			if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
				t.Errorf("masked %v read-only %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
			if d := s.Linux.Resources.Devices; len(d) != 1 || d[0].Allow || d[0].Access != "rwm" {
				t.Errorf("devices %+v, want deny-all", d)
			}
		})
	}
}

func TestWriteBundle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := spec(Options{ID: "x", Rootfs: filepath.Join(dir, "rootfs"), Process: Process{Args: []string{"true"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(dir, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got specs.Spec
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, s) {
		t.Errorf("config.json reads back as %+v, want %+v", got, s)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "config.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is left: %v", err)
	}
}

func TestGlobalFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path     string
		writable bool
		want     []string
	}{
		{"/usr/sbin/runc", true, []string{"--root", "/state"}},
		{"/usr/bin/crun", true, []string{"--root", "/state"}},
		{"/usr/sbin/runc", false, []string{"--root", "/state", "--rootless=true"}},
		{"/usr/bin/crun", false, []string{"--root", "/state", "--cgroup-manager=disabled"}},
	} {
		r := &Runtime{Path: c.path, Root: "/state"}
		if got := r.globalFlags(c.writable); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s, cgroups writable %v: %v, want %v", c.path, c.writable, got, c.want)
		}
	}
}

// TestCgroupsWritable makes cgroup trees of both versions and mounts
// parts of them read-only, as a container's /sys/fs/cgroup can be.
func TestCgroupsWritable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	for _, c := range []struct {
		name     string
		files    []string // made in the tree
		readOnly string   // bind-mounted read-only ("." the root)
		want     bool
	}{
		{"v2", []string{"cgroup.controllers"}, "", true},
		{"v2 read-only", []string{"cgroup.controllers"}, ".", false},
		{"v1", []string{"cpuset/", "memory/", "pids/", "devices/"}, "", true},
		{"v1 read-only memory", []string{"cpuset/", "memory/", "pids/", "devices/"}, "memory", false},
		{"v1 without the controllers", nil, "", true},
		{"v1, only an unused controller read-only", []string{"memory/", "blkio/"}, "blkio", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range c.files {
				p := filepath.Join(root, f)
				var err error
				if strings.HasSuffix(f, "/") {
					err = os.MkdirAll(p, 0o755)
				} else {
					err = os.WriteFile(p, nil, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if c.readOnly != "" {
				p := filepath.Join(root, c.readOnly)
				if err := unix.Mount(p, p, "", unix.MS_BIND, ""); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { unix.Unmount(p, unix.MNT_DETACH) })
				if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
					t.Fatal(err)
				}
			}
			if got := cgroupsWritable(root); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestFind checks the order of the choice: the path given, else
// $STRATA_RUNTIME, else crun, else runc, in $PATH then the sbin dirs.
func TestFind(t *testing.T) {
	bin, sbin := t.TempDir(), t.TempDir()
	exe := func(dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	binCrun, sbinRunc := exe(bin, "crun"), exe(sbin, "runc")
	other := exe(t.TempDir(), "my-runtime")
	os.WriteFile(filepath.Join(bin, "runc"), nil, 0o644) // not executable: skipped
	t.Setenv("PATH", bin)
	for _, c := range []struct {
		name, path, env string
		dirs            []string
		want            string // "" = ErrNoRuntime
		wantErr         string
		noPATH          bool // $PATH holds no runtime
	}{
		{"crun before runc", "", "", []string{sbin}, binCrun, "", false},
		{"crun without runc", "", "", nil, binCrun, "", false},
		{"runc without crun", "", "", []string{sbin}, sbinRunc, "", true},
		{"the path given", other, "crun", []string{sbin}, other, "", false},
		{"a name given is looked up", "crun", "", []string{sbin}, binCrun, "", false},
		{"a name given, in the sbin dirs", "runc", "", []string{sbin}, sbinRunc, "", false},
		{"STRATA_RUNTIME without a path", "", "crun", []string{sbin}, binCrun, "", false},
		{"STRATA_RUNTIME names a file", "", other, []string{sbin}, other, "", false},
		{"the path given is missing", "/no/such/runc", "", []string{sbin}, "", "runtime /no/such/runc:", false},
		{"STRATA_RUNTIME is missing", "", "nosuchruntime", []string{sbin}, "", "runtime nosuchruntime:", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvRuntime, c.env)
			if c.noPATH {
				t.Setenv("PATH", t.TempDir())
			}
			old := sbinDirs
			sbinDirs = c.dirs
			defer func() { sbinDirs = old }()
			r, err := Find(c.path, "/state")
			if c.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Fatalf("got %v, %v; want an error %q", r, err, c.wantErr)
				}
				return
			}
			if err != nil || r.Path != c.want || r.Root != "/state" {
				t.Fatalf("got %+v, %v; want %s", r, err, c.want)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		t.Setenv(EnvRuntime, "")
		t.Setenv("PATH", t.TempDir())
		old := sbinDirs
		sbinDirs = nil
		defer func() { sbinDirs = old }()
		if r, err := Find("", "/state"); !errors.Is(err, ErrNoRuntime) {
			t.Fatalf("got %+v, %v; want ErrNoRuntime", r, err)
		}
	})
}

// TestExecProcessFile: the process file exec reads is the container
// process's (capabilities, no-new-privileges, rlimits, read from the
// bundle's config.json) with the exec's program, user and terminal, and
// --tty goes with a terminal.
func TestExecProcessFile(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{false, true} {
		bundle := t.TempDir()
		ctr, err := spec(Options{ID: "ctr", Process: Process{Args: []string{"sleep", "9"}, Cwd: "/"}, Sandbox: sandbox.Options{
			CapDrop: []string{"CAP_CHOWN"}, NoNewPrivileges: true, Ulimits: []*units.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}},
		}}, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteBundle(bundle, ctr); err != nil {
			t.Fatal(err)
		}
		r := &Runtime{Path: "/usr/sbin/runc", Root: "/state"}
		o := Process{Args: []string{"ls", "/"}, Env: []string{"A=1"}, Cwd: "/tmp", UID: 1, GID: 2, Groups: []uint32{3}, Terminal: tty}
		cmd, file, err := r.Exec("ctr", bundle, o)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(file) != bundle {
			t.Errorf("process file %s is not in %s", file, bundle)
		}
		args := strings.Join(cmd.Args[1:], " ")
		want := "--root /state"
		if !cgroupsWritable(cgroupRoot) {
			want = strings.Join(r.globalFlags(false), " ")
		}
		want += " exec --process " + file
		if tty {
			want += " --tty"
		}
		if want += " ctr"; args != want {
			t.Errorf("args %q, want %q", args, want)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var p specs.Process
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		wantP := *ctr.Process
		wantP.Terminal, wantP.Args, wantP.Env, wantP.Cwd = tty, o.Args, o.Env, o.Cwd
		wantP.User = specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3}}
		if !reflect.DeepEqual(&p, &wantP) {
			t.Errorf("process file %+v, want %+v", p, wantP)
		}
		if !p.NoNewPrivileges || slices.Contains(p.Capabilities.Bounding, "CAP_CHOWN") || len(p.Rlimits) != 1 {
			t.Errorf("the exec does not have the container's confinement: %+v", p)
		}
	}
	if _, _, err := (&Runtime{Path: "runc"}).Exec("ctr", t.TempDir(), Process{Args: []string{"true"}}); err == nil {
		t.Errorf("exec without the container's config: no error")
	}
}

// TestUnknownContainer asks the real runtimes about a container they do
// not have.
func TestUnknownContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, name := range []string{"runc", "crun"} {
		t.Run(name, func(t *testing.T) {
			r, err := Find(name, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Delete("nosuch", true); err != nil {
				t.Errorf("delete --force: %v", err)
			}
			if s, err := r.State("nosuch"); err == nil {
				t.Errorf("state: %+v", s)
			}
			if err := r.Kill("nosuch", "KILL"); err == nil || !strings.HasPrefix(err.Error(), name+" kill: ") {
				t.Errorf("kill: %v", err)
			}
		})
	}
}

// TestOwnerRuntime: a container is killed, inspected and deleted by the
// runtime that made it, whatever runtime is chosen now.
func TestOwnerRuntime(t *testing.T) {
	bin, state := t.TempDir(), t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"runc", "crun"} {
		script := "#!/bin/sh\necho " + name + " \"$@\" >> " + log + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	for _, c := range []struct{ chosen, stateFile, want string }{
		{"crun", "state.json", "runc"}, // made by runc
		{"runc", "status", "crun"},     // made by crun
		{"crun", "status", "crun"},
		{"runc", "state.json", "runc"},
	} {
		id := c.chosen + "-" + c.stateFile
		os.MkdirAll(filepath.Join(state, id), 0o700)
		os.WriteFile(filepath.Join(state, id, c.stateFile), nil, 0o600)
		os.Remove(log)
		r := &Runtime{Path: filepath.Join(bin, c.chosen), Root: state}
		if err := r.Kill(id, "TERM"); err != nil {
			t.Fatal(err)
		}
		if err := r.Delete(id, true); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(log)
		for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
			if !strings.HasPrefix(line, c.want+" ") {
				t.Errorf("%s with %s chosen: %q, want %s", c.stateFile, c.chosen, line, c.want)
			}
		}
	}
}

func TestCrunRefusal(t *testing.T) {
	for _, c := range []struct {
		v2, unlimited, sysResource, refused bool
	}{
		{false, false, false, false}, // v1 or hybrid: no eBPF device filter
		{true, false, true, false},
		{true, true, false, false},
		{true, false, false, true}, // a sandboxed root on v2
	} {
		if got := crunRefusalFor(c.v2, c.unlimited, c.sysResource) != ""; got != c.refused {
			t.Errorf("%+v: refused %v", c, got)
		}
	}
}

// A container with a terminal runs under runc where crun was only chosen
// (ForTerminal says why).
func TestForTerminal(t *testing.T) {
	runc, err := lookPath("runc", sbinDirs)
	if err != nil {
		t.Fatalf("runc is required for this test (apt-get install runc): %v", err)
	}
	for _, c := range []struct {
		in   Runtime
		want string
	}{
		{Runtime{Path: "/usr/bin/crun", Root: "/r"}, runc},
		{Runtime{Path: "/usr/bin/crun", Root: "/r", Named: true}, "/usr/bin/crun"},
		{Runtime{Path: runc, Root: "/r"}, runc},
	} {
		got := c.in.ForTerminal()
		if got.Path != c.want || got.Root != c.in.Root {
			t.Errorf("%+v: %+v, want %s under %s", c.in, got, c.want, c.in.Root)
		}
	}
}

// An exec's terminal gets the exec's own size, never the container's
// process's (nil: none).
func TestExecProcessConsoleSize(t *testing.T) {
	base := &specs.Process{Terminal: true, ConsoleSize: &specs.Box{Height: 10, Width: 20}, Args: []string{"sh"}}
	if p := execProcess(base, Process{Args: []string{"stty", "size"}, Terminal: true, ConsoleSize: &specs.Box{Height: 33, Width: 111}}); p.ConsoleSize == nil || *p.ConsoleSize != (specs.Box{Height: 33, Width: 111}) {
		t.Errorf("exec -t: console size %+v, want 33x111", p.ConsoleSize)
	}
	if p := execProcess(base, Process{Args: []string{"true"}}); p.ConsoleSize != nil {
		t.Errorf("exec without a terminal: console size %+v, want none", p.ConsoleSize)
	}
}
