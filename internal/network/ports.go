package network

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/go-connections/nat"
)

// Port is a published port: a host address and port forwarded to a port
// of the container (-p [IP:][HOSTPORT:]CTRPORT[/PROTO], -P).
type Port struct {
	HostIP string `json:"hostIP,omitempty"` // "" is every address (0.0.0.0)
	// HostPort is the host's port; 0 is any free one, chosen at each
	// start; with HostPortEnd, the first free one of HostPort-HostPortEnd
	// (-p 8000-8010:80).
	HostPort      int    `json:"hostPort,omitempty"`
	HostPortEnd   int    `json:"hostPortEnd,omitempty"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"` // tcp, udp or sctp
}

// Key is the container side as docker writes it: "80/tcp".
func (p Port) Key() string { return strconv.Itoa(p.ContainerPort) + "/" + p.Protocol }

// Host is the host side as docker's port command writes it:
// "0.0.0.0:8080".
func (p Port) Host() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
}

// ParsePublish parses -p values with docker's own parser
// (go-connections/nat): a container port range publishes each port.
func ParsePublish(specs []string) ([]Port, error) {
	var out []Port
	for _, s := range specs {
		ms, err := nat.ParsePortSpec(s)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			p := Port{HostIP: m.Binding.HostIP, ContainerPort: m.Port.Int(), Protocol: m.Port.Proto()}
			if hp := m.Binding.HostPort; hp != "" {
				start, end, err := nat.ParsePortRangeToInt(hp)
				if err != nil {
					return nil, fmt.Errorf("invalid hostPort: %s", hp)
				}
				p.HostPort = start
				if end != start {
					p.HostPortEnd = end // a range to choose from (Resolve)
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseExposed parses EXPOSE values and -p's container ports ("80",
// "80/udp", "8000-8002/tcp") into docker's "80/tcp" keys, sorted.
func ParseExposed(specs []string) ([]string, error) {
	seen := map[string]bool{}
	for _, s := range specs {
		proto, ports := nat.SplitProtoPort(s)
		start, end, err := nat.ParsePortRangeToInt(ports)
		if err != nil {
			return nil, fmt.Errorf("invalid port %q: %v", s, err)
		}
		proto = strings.ToLower(proto)
		if _, err := nat.NewPort(proto, ports); err != nil {
			return nil, err
		}
		for p := start; p <= end; p++ {
			seen[strconv.Itoa(p)+"/"+proto] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i], out[j]) })
	return out, nil
}

func keyLess(a, b string) bool {
	pa, qa, _ := strings.Cut(a, "/")
	pb, qb, _ := strings.Cut(b, "/")
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	if na != nb {
		return na < nb
	}
	return qa < qb
}

// PublishAll is -P: every exposed port ("80/tcp") that -p does not
// publish already, on a free host port chosen at start.
func PublishAll(published []Port, exposed []string) []Port {
	have := map[string]bool{}
	for _, p := range published {
		have[p.Key()] = true
	}
	out := append([]Port{}, published...)
	for _, k := range exposed {
		if have[k] {
			continue
		}
		port, proto, _ := strings.Cut(k, "/")
		n, err := strconv.Atoi(port)
		if err != nil {
			continue
		}
		out = append(out, Port{ContainerPort: n, Protocol: proto})
	}
	return out
}

// Resolve gives each port that has no host port one: a free port the
// kernel picks (or the first free one of its range), as docker's
// allocator does at each start.
func Resolve(ports []Port) ([]Port, error) {
	out := append([]Port{}, ports...)
	for i, p := range out {
		switch {
		case p.HostPortEnd > p.HostPort:
			start := p.HostPort
			found := false
			for hp := start; hp <= p.HostPortEnd && !found; hp++ {
				if _, err := bind(p.HostIP, hp, p.Protocol); err == nil {
					out[i].HostPort, found = hp, true
				}
			}
			if !found {
				return nil, fmt.Errorf("no free host port in %d-%d for %s", start, p.HostPortEnd, p.Key())
			}
		case p.HostPort == 0:
			hp, err := bind(p.HostIP, 0, p.Protocol)
			if err != nil {
				return nil, err
			}
			out[i].HostPort = hp
		}
		out[i].HostPortEnd = 0
	}
	return out, nil
}

func listenNet(proto string) string {
	if proto == "udp" {
		return "udp4"
	}
	return "tcp4" // sctp: tcp's number space is the best guess here
}

// bind binds ip:port (0: any) for proto and releases it at once,
// returning the port it got: whether a port is free, or which one the
// kernel would give.
func bind(ip string, port int, proto string) (int, error) {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	if proto == "udp" {
		c, err := net.ListenPacket(listenNet(proto), addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen(listenNet(proto), addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
