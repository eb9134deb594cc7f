package executor

import (
	"net"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// EtcPolicy says how a container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf are made. They are bind mounts of files outside the
// rootfs, so they are never part of a layer.
type EtcPolicy int

const (
	// BuildEtc is docker build's sandbox: the hostname is
	// BuildHostname, /etc/hosts names it and localhost, resolv.conf is
	// the host's (else Google's resolver); written into the bundle for
	// each run and mounted read-only.
	BuildEtc EtcPolicy = iota
	// ContainerEtc is docker run's: the files WriteContainerEtc wrote in
	// Spec.EtcDir when the container was made, mounted writable, so that
	// a container's edits last across its starts.
	ContainerEtc
)

// BuildHostname is the hostname of a build's RUN, as BuildKit names it.
const BuildHostname = "buildkitsandbox"

// etcFiles are the files, in the order they are mounted.
var etcFiles = []string{"resolv.conf", "hostname", "hosts"}

// etcMounts returns the mounts of the /etc files, and the files it wrote
// (for the caller to remove after the run).
func etcMounts(s Spec) ([]specs.Mount, []string, error) {
	dir, opts := s.EtcDir, []string{"rbind", "rprivate"}
	var written []string
	if s.Etc == BuildEtc {
		dir, opts = s.Bundle, []string{"rbind", "ro"}
		h := hostname(s)
		resolv := "nameserver 8.8.8.8\n"
		if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			resolv = string(b)
		}
		content := map[string]string{
			"hosts":       "127.0.0.1\tlocalhost " + h + "\n::1\tlocalhost ip6-localhost ip6-loopback\n" + s.Sandbox.HostsEntries(),
			"hostname":    h + "\n",
			"resolv.conf": resolv,
		}
		for _, name := range etcFiles {
			p := filepath.Join(dir, name)
			written = append(written, p)
			if err := os.WriteFile(p, []byte(content[name]), 0o644); err != nil {
				return nil, written, err
			}
		}
	}
	var ms []specs.Mount
	for _, name := range etcFiles {
		ms = append(ms, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(dir, name), Options: opts})
	}
	return ms, written, nil
}

func hostname(s Spec) string {
	if s.Hostname == "" && s.Etc == BuildEtc {
		return BuildHostname
	}
	return s.Hostname
}

// WriteContainerEtc writes a container's /etc files in dir as docker
// makes them when it creates a container: with the host's network, the
// host's /etc/hosts; without, localhost and the container's hostname;
// extra entries (--add-host, as sandbox.Options.HostsEntries writes them)
// before the hostname's. The host's resolv.conf either way.
func WriteContainerEtc(dir, hostname, network, extraHosts string, dns DNS) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	if network == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
			if len(b) > 0 && b[len(b)-1] != '\n' {
				hosts += "\n"
			}
		}
		hosts += extraHosts
	} else {
		hosts += extraHosts + "127.0.1.1\t" + hostname + "\n"
	}
	resolv := ""
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		resolv = string(b)
	}
	if network != "host" {
		resolv = withoutLocalResolvers(resolv)
	}
	resolv = dns.ResolvConf(resolv)
	files := map[string]string{"hosts": hosts, "hostname": hostname + "\n", "resolv.conf": resolv}
	for _, name := range etcFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// withoutLocalResolvers is resolv.conf for a container with a network of
// its own, as docker makes it: a nameserver on the host's loopback
// (systemd-resolved's 127.0.0.53) cannot be reached from there, so it is
// dropped, and Google's resolvers stand in when none is left.
func withoutLocalResolvers(resolv string) string {
	var out []string
	servers := 0
	for _, line := range strings.Split(resolv, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
				continue
			}
			servers++
		}
		out = append(out, line)
	}
	s := strings.Join(out, "\n")
	if servers == 0 {
		s = strings.TrimRight(s, "\n")
		if s != "" {
			s += "\n"
		}
		s += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
	}
	return s
}

// DNS is what a container asks of its resolv.conf (--dns, --dns-search,
// --dns-option): each list given replaces the host's, as in docker.
type DNS struct {
	Servers []string `json:"servers,omitempty"`
	Search  []string `json:"search,omitempty"`
	Options []string `json:"options,omitempty"`
}

// ResolvConf is host (a resolv.conf) with d's lists over its own; host
// itself when d asks for nothing. Written as docker writes it: search,
// then one nameserver line each, then options.
func (d DNS) ResolvConf(host string) string {
	if len(d.Servers) == 0 && len(d.Search) == 0 && len(d.Options) == 0 {
		return host
	}
	var servers, search, options []string
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search":
			search = f[1:] // the last search line wins, as in the resolver
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(d.Servers) > 0 {
		servers = d.Servers
	}
	if len(d.Search) > 0 {
		search = d.Search
	}
	if len(d.Options) > 0 {
		options = d.Options
	}
	var b strings.Builder
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}
