package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/store"
)

// containerInspect has the shape of `docker container inspect` for the
// fields strata has (docker's names, docker's zero values).
type containerInspect struct {
	ID              string                  `json:"Id"`
	Created         string                  `json:"Created"`
	Path            string                  `json:"Path"`
	Args            []string                `json:"Args"`
	State           containerInspectState   `json:"State"`
	Image           string                  `json:"Image"`
	ResolvConfPath  string                  `json:"ResolvConfPath"`
	HostnamePath    string                  `json:"HostnamePath"`
	HostsPath       string                  `json:"HostsPath"`
	LogPath         string                  `json:"LogPath"`
	Name            string                  `json:"Name"`
	RestartCount    int                     `json:"RestartCount"`
	Driver          string                  `json:"Driver"`
	Platform        string                  `json:"Platform"`
	HostConfig      containerInspectHost    `json:"HostConfig"`
	Mounts          []containerInspectMount `json:"Mounts"`
	Config          inspectConfig           `json:"Config"`
	NetworkSettings containerInspectNet     `json:"NetworkSettings"`
}

type containerInspectState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	Pid        int    `json:"Pid"`
	ExitCode   int    `json:"ExitCode"`
	Error      string `json:"Error"`
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	// Health is there when the container has a health check.
	Health *container.Health `json:"Health,omitempty"`
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

type containerInspectHost struct {
	Binds           []string                 `json:"Binds"`
	NetworkMode     string                   `json:"NetworkMode"`
	PortBindings    map[string][]portBinding `json:"PortBindings"`
	AutoRemove      bool                     `json:"AutoRemove"`
	Privileged      bool                     `json:"Privileged"`
	PublishAllPorts bool                     `json:"PublishAllPorts"`
	ReadonlyRootfs  bool                     `json:"ReadonlyRootfs"`
	Runtime         string                   `json:"Runtime"`
	DNS             []string                 `json:"Dns"`
	DNSOptions      []string                 `json:"DnsOptions"`
	DNSSearch       []string                 `json:"DnsSearch"`
	GroupAdd        []string                 `json:"GroupAdd"`
}

type containerInspectMount struct {
	Type        string `json:"Type"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

type containerInspectNet struct {
	Ports       map[string][]portBinding `json:"Ports"`
	SandboxKey  string                   `json:"SandboxKey"`
	Gateway     string                   `json:"Gateway"`
	IPAddress   string                   `json:"IPAddress"`
	IPPrefixLen int                      `json:"IPPrefixLen"`
	MacAddress  string                   `json:"MacAddress"`
}

// dockerTime is how docker's inspect writes a time: RFC 3339 with
// nanoseconds, the zero time as "0001-01-01T00:00:00Z".
func dockerTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// inspectContainerRef inspects the container ref names, if the store has
// containers and one is named so (ok false otherwise).
func (a *app) inspectContainerRef(st *store.Store, ref string) (ci *containerInspect, ok bool, err error) {
	if _, err := os.Stat(st.Path(store.Containers)); err != nil {
		return nil, false, nil // no container was ever made here
	}
	m, err := a.containers(&containerFlags{})
	if err != nil {
		return nil, false, err
	}
	r, err := m.Get(ref)
	if err != nil {
		return nil, false, nil
	}
	return inspectContainer(m, r), true, nil
}

func inspectContainer(m *container.Manager, r *container.Record) *containerInspect {
	s := m.State(r.ID)
	c := r.Config
	args := c.Args()
	dir := m.Dir(r.ID)
	ci := &containerInspect{
		ID: r.ID, Created: dockerTime(r.Created), Path: args[0], Args: args[1:],
		State: containerInspectState{
			Status: s.Status, Running: s.Status == container.Running, Pid: m.Pid(r), ExitCode: s.ExitCode,
			Error: s.Error, StartedAt: dockerTime(s.StartedAt), FinishedAt: dockerTime(s.FinishedAt),
			Paused: s.Paused, Health: m.Health(r),
		},
		Image:          r.Image.String(),
		ResolvConfPath: filepath.Join(dir, "resolv.conf"), HostnamePath: filepath.Join(dir, "hostname"),
		HostsPath: filepath.Join(dir, "hosts"), LogPath: filepath.Join(dir, "log.json"),
		Name: "/" + r.Name, Driver: r.Driver, Platform: "linux",
		HostConfig: containerInspectHost{
			NetworkMode: c.Network, AutoRemove: c.AutoRemove, PortBindings: map[string][]portBinding{},
			Privileged: c.Sandbox.Privileged, ReadonlyRootfs: c.Sandbox.ReadOnly, Runtime: m.RuntimePath,
			DNS: orEmpty(c.DNS.Servers), DNSOptions: orEmpty(c.DNS.Options), DNSSearch: orEmpty(c.DNS.Search),
			GroupAdd: c.GroupAdd, // docker's is null when none
		},
		Mounts: []containerInspectMount{},
		Config: inspectConfig{
			Hostname: c.Hostname, User: c.User, Tty: c.Tty, OpenStdin: c.OpenStdin, Env: c.Env, Cmd: c.Cmd,
			Image: r.ImageRef, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, StopSignal: c.StopSignal, Healthcheck: c.Healthcheck,
			AttachStdout: true, AttachStderr: true, Labels: map[string]string{},
		},
		NetworkSettings: containerInspectNet{Ports: map[string][]portBinding{}},
	}
	if s.Paused {
		ci.State.Status = "paused"
	}
	if ci.HostConfig.NetworkMode == container.NetworkBridge {
		ci.HostConfig.NetworkMode = "default" // docker's word for its default bridge
	}
	for _, v := range c.Volumes {
		mode := "rw"
		if v.ReadOnly {
			mode = "ro"
		}
		ci.HostConfig.Binds = append(ci.HostConfig.Binds, v.Source+":"+v.Target+optionalMode(v.ReadOnly))
		ci.Mounts = append(ci.Mounts, containerInspectMount{Type: "bind", Source: v.Source, Destination: v.Target, Mode: mode, RW: !v.ReadOnly, Propagation: "rprivate"})
	}
	for _, p := range c.Ports {
		hp := ""
		if p.HostPort != 0 {
			hp = strconv.Itoa(p.HostPort)
		}
		ci.HostConfig.PortBindings[p.Key()] = append(ci.HostConfig.PortBindings[p.Key()], portBinding{HostIP: p.HostIP, HostPort: hp})
	}
	if len(c.ExposedPorts) > 0 {
		ci.Config.ExposedPorts = map[string]struct{}{}
		for _, k := range c.ExposedPorts {
			ci.Config.ExposedPorts[k] = struct{}{}
			ci.NetworkSettings.Ports[k] = nil
		}
	}
	if n := m.Network(r); n != nil {
		ns := &ci.NetworkSettings
		ns.SandboxKey = filepath.Join(dir, "netns")
		ns.Gateway, ns.IPAddress, ns.IPPrefixLen, ns.MacAddress = n.Gateway, n.IP, n.PrefixLen, n.MAC
		for _, p := range n.Ports {
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			ns.Ports[p.Key()] = append(ns.Ports[p.Key()], portBinding{HostIP: ip, HostPort: strconv.Itoa(p.HostPort)})
		}
	}
	return ci
}

func optionalMode(ro bool) string {
	if ro {
		return ":ro"
	}
	return ""
}

// orEmpty is l, or [] for none: docker's inspect lists are never null.
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
