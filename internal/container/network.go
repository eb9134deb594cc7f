package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/rootless"
	"github.com/strata-dev/strata/internal/store"
)

// Networks a container can be on: docker's names.
const (
	NetworkBridge = "bridge" // docker's default: a namespace of its own on the strata0 bridge
	NetworkHost   = "host"
	NetworkNone   = "none"
)

// netnsPath is where a bridged container's network namespace is kept
// while it runs; networkPath records what it got on the bridge.
func (m *Manager) netnsPath(id string) string   { return filepath.Join(m.Dir(id), "netns") }
func (m *Manager) networkPath(id string) string { return filepath.Join(m.Dir(id), "network.json") }

// slirpSocket is the API socket of a rootless container's slirp4netns,
// in the runtime's state directory: a socket path must be short, and a
// store under $HOME gives long ones.
func (m *Manager) slirpSocket(id string) string {
	return filepath.Join(m.St.Path(store.RuntimeState), "slirp-"+id[:12]+".sock")
}

// Network is what a running bridged container got on the bridge (its
// address, its published ports with their host ports); nil for a
// container that is not running or not on the bridge.
func (m *Manager) Network(r *Record) *network.Attachment {
	if r.Config.Network != NetworkBridge || m.State(r.ID).Status != Running {
		return nil
	}
	a, err := network.Load(m.networkPath(r.ID))
	if err != nil {
		return nil
	}
	return a
}

// attach gives a container about to start its network namespace on the
// bridge, its published ports (a free host port for those without one)
// and the line of /etc/hosts that names it; it returns the namespace's
// path. The record of it (network.json) is written before anything is
// made, so that a crash at any point leaves what detach undoes.
func (m *Manager) attach(ctx context.Context, r *Record) (string, error) {
	ports, err := network.Resolve(r.Config.Ports)
	if err != nil {
		return "", err
	}
	rec := &network.Attachment{Ports: ports}
	if err := rec.Save(m.networkPath(r.ID)); err != nil {
		return "", err
	}
	ns := m.netnsPath(r.ID)
	network.RemoveNS(ns) // a namespace a crash left
	if err := network.NewNS(ns); err != nil {
		m.detach(r)
		return "", err
	}
	var a *network.Attachment
	if rootless.Current().Rootless {
		// No bridge without root: a user-mode stack, as podman's.
		a, err = network.AttachSlirp(ctx, ns, m.slirpSocket(r.ID), ports)
	} else {
		var b *network.Bridge
		if b, err = network.NewBridge(); err == nil {
			a, err = b.Attach(ctx, r.ID, ns, ports)
		}
	}
	if err != nil {
		m.detach(r)
		return "", err
	}
	if err := a.Save(m.networkPath(r.ID)); err != nil {
		m.detach(r)
		return "", err
	}
	if err := setHostsAddress(filepath.Join(m.Dir(r.ID), "hosts"), r.Config.Hostname, a.IP); err != nil {
		m.detach(r)
		return "", err
	}
	return ns, nil
}

// detach undoes attach, whatever part of it was done: the CNI teardown
// (port forwards, firewall rules, interface, address lease), then the
// namespace and the record. Without a record there is nothing to undo.
func (m *Manager) detach(r *Record) error {
	a, err := network.Load(m.networkPath(r.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var ports []network.Port
	if a != nil {
		ports = a.Ports
	}
	ns := m.netnsPath(r.ID)
	if a != nil && a.SlirpPID != 0 || rootless.Current().Rootless {
		if a != nil {
			network.StopSlirp(a.SlirpPID)
		}
		os.Remove(m.slirpSocket(r.ID))
	} else {
		b, err := network.NewBridge()
		if err != nil {
			return err
		}
		if err := b.Detach(context.Background(), r.ID, ns, ports); err != nil {
			return err
		}
	}
	if err := network.RemoveNS(ns); err != nil {
		return err
	}
	if err := os.Remove(m.networkPath(r.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// setHostsAddress makes /etc/hosts name the container's hostname with its
// address on the bridge, as docker's last line does ("10.87.0.5\tabc123"):
// the line create wrote for the name is replaced, else one is added.
func setHostsAddress(path, hostname, ip string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	entry := ip + "\t" + hostname
	replaced := false
	for i := len(lines) - 1; i >= 0 && !replaced; i-- {
		if f := strings.Fields(lines[i]); len(f) == 2 && f[1] == hostname {
			lines[i], replaced = entry, true
		}
	}
	if !replaced {
		lines = append(lines, entry)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
