package sandbox

import (
	"os"
	"reflect"
	"slices"
	"testing"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// baseSpec is the shape of the configs internal/runtime makes.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Root:    &specs.Root{Path: "/rootfs"},
		Process: &specs.Process{Args: []string{"sh"}},
		Mounts: []specs.Mount{
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		},
		Linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}},
	}
}

func apply(t *testing.T, o Options) *specs.Spec {
	t.Helper()
	s := baseSpec()
	if err := o.Apply(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCapabilities(t *testing.T) {
	all, err := hostCaps()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    Options
		want []string
	}{
		{"docker's defaults", Options{}, DefaultCaps},
		{"drop one", Options{CapDrop: []string{"CAP_CHOWN"}}, DefaultCaps[1:]},
		{"add one", Options{CapAdd: []string{"CAP_SYS_ADMIN"}}, append(slices.Clone(DefaultCaps), "CAP_SYS_ADMIN")},
		{"add one already there", Options{CapAdd: []string{"CAP_KILL"}}, DefaultCaps},
		{"drop all, add one", Options{CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_KILL"}}, []string{"CAP_KILL"}},
		{"drop all", Options{CapDrop: []string{"ALL"}}, nil},
		{"add all, drop one", Options{CapAdd: []string{"ALL"}, CapDrop: []string{"CAP_SYS_ADMIN"}},
			slices.DeleteFunc(slices.Clone(all), func(c string) bool { return c == "CAP_SYS_ADMIN" })},
		{"privileged", Options{Privileged: true, CapDrop: []string{"ALL"}}, all},
	} {
		t.Run(c.name, func(t *testing.T) {
			caps := apply(t, c.o).Process.Capabilities
			if !reflect.DeepEqual(caps.Bounding, c.want) || !reflect.DeepEqual(caps.Effective, c.want) || !reflect.DeepEqual(caps.Permitted, c.want) || caps.Inheritable != nil || caps.Ambient != nil {
				t.Errorf("got %+v, want %v in bounding, effective and permitted", caps, c.want)
			}
		})
	}
	if !slices.Contains(all, "CAP_SYS_ADMIN") || len(all) < len(DefaultCaps) {
		t.Errorf("this host's capabilities %v", all)
	}
}

// allowed reports whether the profile has a rule that allows name.
func allowed(p *specs.LinuxSeccomp, name string) bool {
	for _, r := range p.Syscalls {
		if r.Action == specs.ActAllow && slices.Contains(r.Names, name) && len(r.Args) == 0 {
			return true
		}
	}
	return false
}

func TestSeccomp(t *testing.T) {
	def := apply(t, Options{}).Linux.Seccomp
	if def == nil || def.DefaultAction != specs.ActErrno || len(def.Architectures) == 0 {
		t.Fatalf("default profile %+v", def)
	}
	if !allowed(def, "read") || allowed(def, "unshare") || allowed(def, "mount") || allowed(def, "keyctl") {
		t.Errorf("the default profile does not allow read, or allows unshare, mount or keyctl without CAP_SYS_ADMIN")
	}
	admin := apply(t, Options{CapAdd: []string{"CAP_SYS_ADMIN"}}).Linux.Seccomp
	if !allowed(admin, "unshare") || !allowed(admin, "mount") {
		t.Errorf("with CAP_SYS_ADMIN the profile does not allow unshare and mount, as docker's does")
	}
	if s := apply(t, Options{Seccomp: Unconfined}); s.Linux.Seccomp != nil {
		t.Errorf("unconfined has a profile")
	}
	if s := apply(t, Options{Privileged: true, Seccomp: `{"defaultAction":"SCMP_ACT_ALLOW"}`}); s.Linux.Seccomp != nil {
		t.Errorf("privileged has a profile")
	}
	own := apply(t, Options{Seccomp: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`}).Linux.Seccomp
	if own.DefaultAction != specs.ActAllow || len(own.Syscalls) != 1 || own.Syscalls[0].Names[0] != "mkdir" {
		t.Errorf("a given profile became %+v", own)
	}
	if err := (Options{Seccomp: "{"}).Apply(baseSpec()); err == nil {
		t.Errorf("a damaged stored profile: no error")
	}
}

func TestApply(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		s := apply(t, Options{})
		if !reflect.DeepEqual(s.Linux.MaskedPaths, maskedPaths) || !reflect.DeepEqual(s.Linux.ReadonlyPaths, readonlyPaths) {
			t.Errorf("masked %v, read-only %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
		}
		if s.Root.Readonly || s.Process.NoNewPrivileges || s.Process.Rlimits != nil || len(s.Linux.Devices) != 0 {
			t.Errorf("root %+v, process %+v, devices %v", s.Root, s.Process, s.Linux.Devices)
		}
		if r := s.Linux.Resources; r.Memory != nil || r.CPU != nil || r.Pids != nil || len(r.Devices) != 1 || r.Devices[0].Allow {
			t.Errorf("resources %+v", r)
		}
		if o := s.Mounts[2].Options; o[len(o)-1] != "size=65536k" || slices.Contains(s.Mounts[0].Options, "rw") || !slices.Contains(s.Mounts[0].Options, "ro") {
			t.Errorf("mounts %+v", s.Mounts)
		}
	})
	t.Run("limits and switches", func(t *testing.T) {
		tmp := specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs"}
		s := apply(t, Options{
			Memory: 64 << 20, NanoCPUs: 1500000000, PidsLimit: 20, ShmSize: 1000, ReadOnly: true, NoNewPrivileges: true,
			Ulimits: []*units.Ulimit{{Name: "nofile", Soft: 1, Hard: 2}}, Mounts: []specs.Mount{tmp}, UnmaskedPaths: true,
		})
		r := s.Linux.Resources
		if *r.Memory.Limit != 64<<20 || *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.Pids.Limit != 20 {
			t.Errorf("resources %+v %+v %+v", r.Memory, r.CPU, r.Pids)
		}
		if !s.Root.Readonly || !s.Process.NoNewPrivileges || !reflect.DeepEqual(s.Process.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}}) {
			t.Errorf("root %+v, process %+v", s.Root, s.Process)
		}
		if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
			t.Errorf("systempaths=unconfined kept masked paths")
		}
		if o := s.Mounts[2].Options; o[len(o)-1] != "size=1k" || len(o) != 5 {
			t.Errorf("/dev/shm %v", o)
		}
		if !reflect.DeepEqual(s.Mounts[len(s.Mounts)-1], tmp) {
			t.Errorf("the mount is not last: %+v", s.Mounts)
		}
	})
	t.Run("privileged", func(t *testing.T) {
		s := apply(t, Options{Privileged: true})
		if s.Linux.MaskedPaths != nil || slices.Contains(s.Mounts[0].Options, "ro") || slices.Contains(s.Mounts[1].Options, "ro") {
			t.Errorf("masked %v, mounts %+v", s.Linux.MaskedPaths, s.Mounts)
		}
		if d := s.Linux.Resources.Devices; len(d) != 1 || !d[0].Allow {
			t.Errorf("device cgroup %+v", d)
		}
		if _, err := os.Stat("/dev/null"); err == nil && !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool {
			return d.Path == "/dev/null" && d.Type == "c" && d.Major == 1 && d.Minor == 3
		}) {
			t.Errorf("the host's /dev/null is not among the devices %+v", s.Linux.Devices)
		}
		for _, d := range s.Linux.Devices {
			if d.Path == "/dev/console" || d.Path == "/dev/pts/ptmx" {
				t.Errorf("device %s given", d.Path)
			}
		}
	})
	t.Run("init", func(t *testing.T) {
		if _, err := findInit(); err != nil {
			t.Fatal(err) // scripts/test.sh installs tini
		}
		s := apply(t, Options{Init: true})
		m := s.Mounts[len(s.Mounts)-1]
		if m.Destination != InitPath || m.Type != "bind" || !slices.Contains(m.Options, "ro") {
			t.Errorf("init mount %+v", m)
		}
		if !reflect.DeepEqual(s.Process.Args, []string{InitPath, "--", "sh"}) {
			t.Errorf("args %v", s.Process.Args)
		}
	})
}

func TestTargetsAndHosts(t *testing.T) {
	o := Options{Mounts: []specs.Mount{{Destination: "/a"}, {Destination: "/b"}}, Init: true, ExtraHosts: []string{"db:10.0.0.1", "v6:::1"}}
	if got := o.Targets(); !reflect.DeepEqual(got, []string{"/a", "/b", InitPath}) {
		t.Errorf("targets %v", got)
	}
	if got := o.HostsEntries(); got != "10.0.0.1\tdb\n::1\tv6\n" {
		t.Errorf("hosts %q", got)
	}
	if (Options{}).HasLimits() || !(Options{PidsLimit: 1}).HasLimits() {
		t.Errorf("HasLimits")
	}
}
