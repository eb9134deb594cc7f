package changes

import (
	"fmt"
	"strconv"
	"strings"
)

// ExposedPorts lists the "port/proto" entries an EXPOSE argument stands
// for, as docker records them: a range is one entry a port ("8000-8002"
// is 8000/tcp, 8001/tcp, 8002/tcp), the protocol is lower-cased and tcp
// when missing, and a host part ("[ip:]host:container", which EXPOSE
// ignores) is dropped.
func ExposedPorts(spec string) ([]string, error) {
	container := spec
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		container = spec[i+1:]
	}
	port, proto, _ := strings.Cut(container, "/")
	proto = strings.ToLower(proto)
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid port %q: invalid proto: %s", spec, proto)
	}
	first, last, err := portRange(port)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %v", spec, err)
	}
	out := make([]string, 0, last-first+1)
	for p := first; p <= last; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

// portRange reads "N" or "N-M" (0 to 65535, N <= M).
func portRange(s string) (first, last int, err error) {
	if s == "" {
		return 0, 0, fmt.Errorf("no port specified")
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if first, err = portNumber(lo); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return first, first, nil
	}
	if last, err = portNumber(hi); err != nil {
		return 0, 0, err
	}
	if last < first {
		return 0, 0, fmt.Errorf("invalid port range: %s", s)
	}
	return first, last, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("invalid port number %q", s)
	}
	return n, nil
}
