package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/network"
)

func newPortCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			var ports []network.Port
			if n := m.Network(r); n != nil {
				ports = n.Ports
			}
			sort.SliceStable(ports, func(i, j int) bool { return portLess(ports[i], ports[j]) })
			if len(args) == 1 {
				for _, p := range ports {
					fmt.Fprintf(a.stdout, "%s -> %s\n", p.Key(), p.Host())
				}
				return nil
			}
			want := args[1]
			if !strings.Contains(want, "/") {
				want += "/tcp"
			}
			found := false
			for _, p := range ports {
				if p.Key() == want {
					a.println(p.Host())
					found = true
				}
			}
			if !found {
				//lint:ignore ST1005 docker's words, which scripts match
				return fmt.Errorf("No public port '%s' published for %s", args[1], args[0])
			}
			return nil
		},
	}
	f.add(c.Flags())
	return c
}

func portLess(a, b network.Port) bool {
	if a.ContainerPort != b.ContainerPort {
		return a.ContainerPort < b.ContainerPort
	}
	return a.Protocol < b.Protocol
}

// portsColumn is ps's PORTS: each published port as
// "0.0.0.0:8080->80/tcp", then each exposed port not published ("90/tcp"),
// as docker writes them (docker also lists [::] for its IPv6 proxy, which
// strata has not: its forwards are IPv4).
func portsColumn(m *container.Manager, r *container.Record) string {
	var out []string
	published := map[string]bool{}
	if m.State(r.ID).Status != container.Running {
		return "" // docker shows no ports for a container that is not running
	}
	if n := m.Network(r); n != nil {
		ports := append([]network.Port{}, n.Ports...)
		sort.SliceStable(ports, func(i, j int) bool { return portLess(ports[i], ports[j]) })
		for _, p := range ports {
			out = append(out, p.Host()+"->"+p.Key())
			published[p.Key()] = true
		}
	}
	for _, k := range r.Config.ExposedPorts {
		if !published[k] {
			out = append(out, k)
		}
	}
	return strings.Join(out, ", ")
}
