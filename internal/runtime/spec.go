// Package runtime drives an OCI runtime: it makes the runtime-spec config
// of a container as docker sets one up, writes bundles, and runs runc or
// crun (Find chooses which) with the flags this host needs. It knows
// nothing of images or snapshots; internal/executor builds on it.
package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/sandbox"
)

// Process is the program a container runs and how.
type Process struct {
	Args     []string
	Env      []string
	Cwd      string
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Terminal bool
	// ConsoleSize is the size the terminal is made with (nil: 0x0 until
	// a resize), so that a process asking at once gets the caller's.
	ConsoleSize *specs.Box
	// Detach, for an exec, returns as soon as the process started (the
	// runtime's exec --detach): its status is nobody's to wait for.
	Detach bool
}

// Options describe one container: its process and its environment.
type Options struct {
	ID     string
	Rootfs string // absolute path of the mounted root filesystem
	Process
	Hostname string
	// Network is "none" (a namespace of its own with only loopback) or
	// "host" (the host's network).
	Network string
	// NetNS, when set, is the path of the network namespace to join
	// (one made and connected beforehand, internal/network).
	NetNS string
	// Mounts are added after the standard ones: /etc/hosts and friends,
	// volumes.
	Mounts []specs.Mount
	// Sandbox is the container's confinement and limits (the zero value
	// is docker's defaults).
	Sandbox sandbox.Options
}

// SpecVersion is the runtime-spec version of the configs written: that of
// the features they use, not the library's (specs.Version), since crun
// refuses a version newer than it knows (Debian 12's crun 1.8 knows 1.1).
const SpecVersion = "1.0.2"

// Spec returns the runtime-spec config of a container as docker sets one
// up: namespaces mount, pid, ipc, uts and (unless host) network; /proc,
// /dev (tmpfs, with pts, shm and mqueue), /sys read-only and the cgroup
// tree; then o.Sandbox's confinement (docker's defaults when zero:
// capabilities, seccomp, masked and read-only paths). Cgroup limits on a
// host where cgroups cannot be made are an error: the runtimes would run
// the container without them.
func Spec(o Options) (*specs.Spec, error) {
	return spec(o, cgroupsWritable(cgroupRoot))
}

// process is the runtime's process of o, before the sandbox's settings.
func process(o Process) *specs.Process {
	return &specs.Process{
		Terminal:    o.Terminal,
		ConsoleSize: o.ConsoleSize,
		Args:        o.Args,
		Env:         o.Env,
		Cwd:         o.Cwd,
		User:        specs.User{UID: o.UID, GID: o.GID, AdditionalGids: o.Groups},
	}
}

func spec(o Options, cgroupsWritable bool) (*specs.Spec, error) {
	s := &specs.Spec{
		Version:  SpecVersion,
		Hostname: o.Hostname,
		Root:     &specs.Root{Path: o.Rootfs},
		Process:  process(o.Process),
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			// runc and crun add the standard devices (null, zero, tty...)
			// to a deny-all list.
			Resources:   &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			CgroupsPath: "/strata/" + o.ID,
		},
	}
	if o.Network != "host" || o.NetNS != "" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetNS})
	} else {
		// sysfs cannot be mounted without a network namespace of our
		// own: bind the host's, read-only.
		s.Mounts[3] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
	}
	s.Mounts = append(s.Mounts, o.Mounts...)
	if err := o.Sandbox.Apply(s); err != nil {
		return nil, err
	}
	if !cgroupsWritable {
		if o.Sandbox.HasLimits() {
			return nil, errors.New("--memory, --cpus and --pids-limit need cgroups, and this host's cannot be written (" + cgroupRoot + " is read-only)")
		}
		// runc's rootless cgroup mode (see Runtime.Command) ignores
		// cgroup errors only when no cgroup path was asked for.
		s.Linux.CgroupsPath = ""
	}
	if m := s.Linux.Resources.Memory; m != nil && m.Limit != nil && swapAccounted(cgroupRoot) {
		// docker's default: as much swap again as memory.
		swap := 2 * *m.Limit
		m.Swap = &swap
	}
	return s, nil
}

// WriteBundle writes config.json into the bundle directory.
func WriteBundle(dir string, s *specs.Spec) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "config.json.tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "config.json"))
}
