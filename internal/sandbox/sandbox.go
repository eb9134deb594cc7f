// Package sandbox is how a container is confined, as docker confines one:
// its capabilities, seccomp profile, masked and read-only /proc and /sys
// paths, no-new-privileges, a read-only root, cgroup limits (memory, CPU,
// pids), rlimits, /dev/shm's size, extra mounts (--mount, --tmpfs), an init
// process (--init) and extra /etc/hosts entries (--add-host).
//
// Options is the parsed, stored form (a container's record keeps it, so a
// later start runs the same way); its zero value is docker's defaults,
// which a build's RUN steps and every container get. Parse turns docker's
// flags into Options; Apply writes Options into a runtime-spec config
// made by internal/runtime. The seccomp profile is moby's (the
// github.com/moby/profiles/seccomp module, what dockerd uses), converted
// for this machine's architecture and the container's capabilities.
package sandbox

import (
	"fmt"
	"slices"
	"strings"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Options are a container's confinement and limits. The zero value is
// docker's default.
type Options struct {
	// CapAdd and CapDrop are normalized capability names (CAP_X) or ALL.
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// Privileged gives every capability and the host's devices, and
	// takes away seccomp and the masked paths.
	Privileged bool `json:"privileged,omitempty"`
	// Seccomp is "" for docker's default profile, Unconfined for none,
	// else a profile (JSON, as docker's --security-opt seccomp=FILE reads
	// it when the container is made).
	Seccomp         string `json:"seccomp,omitempty"`
	NoNewPrivileges bool   `json:"noNewPrivileges,omitempty"`
	// UnmaskedPaths is --security-opt systempaths=unconfined: no masked
	// or read-only /proc and /sys paths.
	UnmaskedPaths bool `json:"unmaskedPaths,omitempty"`
	// ReadOnly mounts the root filesystem read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Memory (bytes), NanoCPUs (1e9 = one CPU) and PidsLimit: 0 is no
	// limit.
	Memory    int64 `json:"memory,omitempty"`
	NanoCPUs  int64 `json:"nanoCPUs,omitempty"`
	PidsLimit int64 `json:"pidsLimit,omitempty"`
	// ShmSize is /dev/shm's size in bytes (0: docker's 64 MiB).
	ShmSize int64           `json:"shmSize,omitempty"`
	Ulimits []*units.Ulimit `json:"ulimits,omitempty"`
	// Mounts are --mount and --tmpfs mounts, added after the others.
	Mounts []specs.Mount `json:"mounts,omitempty"`
	// Init runs InitPath (tini, as docker's docker-init) as PID 1, which
	// runs the process and reaps zombies.
	Init bool `json:"init,omitempty"`
	// ExtraHosts are HOST:IP entries added to /etc/hosts.
	ExtraHosts []string `json:"extraHosts,omitempty"`
}

// Unconfined is the Seccomp value of no profile.
const Unconfined = "unconfined"

// DefaultShmSize is /dev/shm's size when none is given, docker's.
const DefaultShmSize = 64 << 20

// InitPath is where the init binary is mounted in a container, docker's
// place for it.
const InitPath = "/sbin/docker-init"

// maskedPaths and readonlyPaths are docker's (moby's oci.DefaultSpec).
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// Apply writes o into s, a config made by internal/runtime (its process,
// its standard mounts and its Linux section set).
func (o Options) Apply(s *specs.Spec) error {
	caps, err := o.capabilities()
	if err != nil {
		return err
	}
	p := s.Process
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	p.NoNewPrivileges = o.NoNewPrivileges
	p.Rlimits = nil
	for _, u := range o.Ulimits {
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Hard: uint64(u.Hard), Soft: uint64(u.Soft)})
	}
	s.Root.Readonly = o.ReadOnly
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	if !o.Privileged && !o.UnmaskedPaths {
		s.Linux.MaskedPaths = slices.Clone(maskedPaths)
		s.Linux.ReadonlyPaths = slices.Clone(readonlyPaths)
	}
	shm := int64(DefaultShmSize)
	if o.ShmSize > 0 {
		shm = o.ShmSize
	}
	for i, m := range s.Mounts {
		switch m.Destination {
		case "/dev/shm":
			s.Mounts[i].Options = append(withoutOption(m.Options, "size="), fmt.Sprintf("size=%dk", (shm+1023)/1024))
		case "/sys", "/sys/fs/cgroup":
			if o.Privileged {
				// docker's privileged containers may write /sys.
				s.Mounts[i].Options = withoutOption(m.Options, "ro")
			}
		}
	}
	if o.Privileged {
		if err := addHostDevices(s); err != nil {
			return err
		}
	}
	o.applyResources(s)
	s.Mounts = append(s.Mounts, o.Mounts...)
	if o.Init {
		if err := addInit(s); err != nil {
			return err
		}
	}
	// Last: the profile's rules depend on the capabilities.
	s.Linux.Seccomp, err = o.seccomp(s)
	return err
}

// applyResources sets the cgroup limits.
func (o Options) applyResources(s *specs.Spec) {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	r := s.Linux.Resources
	if o.Memory > 0 {
		limit := o.Memory
		r.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	if o.NanoCPUs > 0 {
		// docker's conversion: a quota per 100ms period.
		period := uint64(100000)
		quota := o.NanoCPUs * int64(period) / 1e9
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if o.PidsLimit > 0 {
		limit := o.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
}

// HasLimits reports whether o asks for cgroup limits, which a host whose
// cgroups cannot be written cannot give.
func (o Options) HasLimits() bool { return o.Memory > 0 || o.NanoCPUs > 0 || o.PidsLimit > 0 }

// Targets are the container paths o mounts something on (--mount, --tmpfs,
// the init binary): like volumes, they are not part of the container's
// layer.
func (o Options) Targets() []string {
	var out []string
	for _, m := range o.Mounts {
		out = append(out, m.Destination)
	}
	if o.Init {
		out = append(out, InitPath)
	}
	return out
}

// HostsEntries are the /etc/hosts lines of ExtraHosts, in the order given,
// as docker writes them.
func (o Options) HostsEntries() string {
	var b strings.Builder
	for _, h := range o.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	return b.String()
}

// withoutOption returns opts less those equal to name or, for a name
// ending in "=", those that start with it.
func withoutOption(opts []string, name string) []string {
	var out []string
	for _, o := range opts {
		if o == name || (strings.HasSuffix(name, "=") && strings.HasPrefix(o, name)) {
			continue
		}
		out = append(out, o)
	}
	return out
}
