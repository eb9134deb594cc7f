// Package runtime drives an OCI runtime: it makes the runtime-spec config
// of a container as docker sets one up, writes bundles, and runs runc or
// crun (Find chooses which) with the flags this host needs. It knows
// nothing of images or snapshots; internal/executor builds on it.
package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Process is the program a container runs and how.
type Process struct {
	Args     []string
	Env      []string
	Cwd      string
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Terminal bool
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
	// Mounts are added after the standard ones: /etc/hosts and friends,
	// volumes.
	Mounts []specs.Mount
}

// SpecVersion is the runtime-spec version of the configs written: that of
// the features they use, not the library's (specs.Version), since crun
// refuses a version newer than it knows (Debian 12's crun 1.8 knows 1.1).
const SpecVersion = "1.0.2"

// defaultCaps is docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Spec returns the runtime-spec config of a container as docker sets one
// up: namespaces mount, pid, ipc, uts and (unless host) network; /proc,
// /dev (tmpfs, with pts, shm and mqueue), /sys read-only and the cgroup
// tree; docker's masked and read-only paths and default capabilities.
func Spec(o Options) *specs.Spec {
	return spec(o, cgroupsWritable(cgroupRoot))
}

// process is the runtime's process of o, with docker's capabilities.
func process(o Process) *specs.Process {
	caps := append([]string{}, defaultCaps...)
	return &specs.Process{
		Terminal: o.Terminal,
		Args:     o.Args,
		Env:      o.Env,
		Cwd:      o.Cwd,
		User:     specs.User{UID: o.UID, GID: o.GID, AdditionalGids: o.Groups},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		},
	}
}

func spec(o Options, cgroupsWritable bool) *specs.Spec {
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
			MaskedPaths: []string{
				"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
				"/sys/firmware", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
	if o.Network != "host" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	} else {
		// sysfs cannot be mounted without a network namespace of our
		// own: bind the host's, read-only.
		s.Mounts[3] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
	}
	s.Mounts = append(s.Mounts, o.Mounts...)
	if !cgroupsWritable {
		// runc's rootless cgroup mode (see Runtime.Command) ignores
		// cgroup errors only when no cgroup path was asked for.
		s.Linux.CgroupsPath = ""
	}
	return s
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
