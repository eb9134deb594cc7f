// Package network gives a container a network of its own, as docker's
// default bridge does: a network namespace (NewNS), an interface on the
// strata0 bridge with an address of 10.87.0.0/16 and a route out through
// it (masqueraded), and published ports (-p, -P) forwarded from the host.
// The work is done by the CNI plugins of Debian's
// containernetworking-plugins (bridge with host-local addresses, portmap,
// firewall), run through libcni, the CNI project's own library, as
// containerd and podman's CNI backend run them.
//
// Address leases (host-local's) and libcni's record of each attachment
// are kept where the CNI tools keep them (/var/lib/cni), for the whole
// host: every strata store shares the bridge and its addresses.
package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
)

const (
	// Name is the CNI network's name (libcni's cache is per name).
	Name = "strata"
	// BridgeName is the host's bridge interface.
	BridgeName = "strata0"
	// Subnet is the bridge's: apart from docker0's 172.17.0.0/16 and
	// podman's 10.88.0.0/16.
	Subnet = "10.87.0.0/16"
	// IfName is the container's interface.
	IfName = "eth0"
)

// PluginDirs are where the CNI plugins are looked for: Debian's package,
// then the upstream default.
var PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// conflist is the network: the plugins run in order on ADD and in
// reverse on DEL. cniVersion 1.0.0 is the newest Debian 12's plugins
// (1.1.1) speak.
var conflist = fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}`, Name, BridgeName, Subnet)

// Bridge attaches containers to the strata bridge.
type Bridge struct {
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
	// noPorts is list without portmap, for a container that publishes
	// no port: portmap's ADD runs iptables about eight times even with
	// nothing to forward, a third of a container's network set-up. DEL
	// always runs the whole list, so a crash's teardown (which may not
	// know the ports) leaves no forward behind.
	noPorts *libcni.NetworkConfigList
}

// NewBridge returns the bridge network; nothing is run until Attach.
func NewBridge() (*Bridge, error) {
	list, err := libcni.ConfListFromBytes([]byte(conflist))
	if err != nil {
		return nil, err
	}
	noPorts := *list
	noPorts.Plugins = nil
	for _, p := range list.Plugins {
		if p.Network.Type != "portmap" {
			noPorts.Plugins = append(noPorts.Plugins, p)
		}
	}
	return &Bridge{cni: libcni.NewCNIConfig(PluginDirs, nil), list: list, noPorts: &noPorts}, nil
}

// Attachment is what a container got on the bridge.
type Attachment struct {
	IP        string `json:"ip"`        // 10.87.0.5
	PrefixLen int    `json:"prefixLen"` // 16
	Gateway   string `json:"gateway"`   // 10.87.0.1
	MAC       string `json:"mac"`
	Ports     []Port `json:"ports,omitempty"` // with their host ports
	// SlirpPID is the slirp4netns process of a rootless container's
	// network (AttachSlirp), 0 on the bridge.
	SlirpPID int `json:"slirpPid,omitempty"`
}

func (b *Bridge) runtimeConf(id, nsPath string, ports []Port) *libcni.RuntimeConf {
	type mapping struct {
		HostPort      int    `json:"hostPort"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
		HostIP        string `json:"hostIP,omitempty"`
	}
	ms := []mapping{}
	for _, p := range ports {
		ms = append(ms, mapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol, HostIP: p.HostIP})
	}
	return &libcni.RuntimeConf{
		ContainerID: id, NetNS: nsPath, IfName: IfName,
		CapabilityArgs: map[string]any{"portMappings": ms},
	}
}

// Attach connects the namespace at nsPath to the bridge and forwards
// ports (their host ports resolved) to it. On failure nothing is left
// attached.
func (b *Bridge) Attach(ctx context.Context, id, nsPath string, ports []Port) (*Attachment, error) {
	add := b.list
	if len(ports) == 0 {
		add = b.noPorts
	}
	res, err := b.cni.AddNetworkList(ctx, add, b.runtimeConf(id, nsPath, ports))
	if err != nil {
		b.cni.DelNetworkList(ctx, b.list, b.runtimeConf(id, nsPath, ports))
		return nil, explain(err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		b.cni.DelNetworkList(ctx, b.list, b.runtimeConf(id, nsPath, ports))
		return nil, err
	}
	a := &Attachment{Ports: ports}
	for _, ip := range r.IPs {
		if ip.Address.IP.To4() == nil {
			continue
		}
		a.IP = ip.Address.IP.String()
		a.PrefixLen, _ = ip.Address.Mask.Size()
		if ip.Gateway != nil {
			a.Gateway = ip.Gateway.String()
		}
		if ip.Interface != nil && *ip.Interface < len(r.Interfaces) {
			a.MAC = r.Interfaces[*ip.Interface].Mac
		}
	}
	if a.IP == "" {
		b.cni.DelNetworkList(ctx, b.list, b.runtimeConf(id, nsPath, ports))
		return nil, errors.New("network bridge: the CNI plugins gave no IPv4 address")
	}
	return a, nil
}

// Detach undoes Attach: the port forwards, the firewall rules, the
// interface and the address lease. It works with a namespace that is
// gone too (after a crash), as the CNI spec asks of plugins.
func (b *Bridge) Detach(ctx context.Context, id, nsPath string, ports []Port) error {
	if err := b.cni.DelNetworkList(ctx, b.list, b.runtimeConf(id, nsPath, ports)); err != nil {
		return explain(err)
	}
	return nil
}

// explain says what to do when the plugins are not installed.
func explain(err error) error {
	if strings.Contains(err.Error(), "failed to find plugin") {
		return fmt.Errorf("network bridge: %v (install Debian's containernetworking-plugins, or use --network host)", err)
	}
	return fmt.Errorf("network bridge: %w", err)
}

// Save and Load keep an Attachment in a file (the container's
// network.json), for port, inspect, ps and the teardown after a crash.
func (a *Attachment) Save(path string) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads what Save wrote.
func Load(path string) (*Attachment, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var a Attachment
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &a, nil
}
