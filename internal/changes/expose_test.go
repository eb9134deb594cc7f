package changes

import (
	"strings"
	"testing"
)

func TestExposedPorts(t *testing.T) {
	for _, c := range []struct {
		spec, want, err string
	}{
		{spec: "80", want: "80/tcp"},
		{spec: "53/UDP", want: "53/udp"},
		{spec: "8000-8002", want: "8000/tcp 8001/tcp 8002/tcp"},
		{spec: "7000-7001/sctp", want: "7000/sctp 7001/sctp"},
		{spec: "9000-9000", want: "9000/tcp"},
		{spec: "8080:80", want: "80/tcp"},
		{spec: "127.0.0.1:8080:80/udp", want: "80/udp"},
		{spec: "80/icmp", err: "invalid proto"},
		{spec: "8002-8000", err: "invalid port range"},
		{spec: "70000", err: "invalid port number"},
		{spec: "/tcp", err: "no port specified"},
		{spec: "http", err: "invalid port number"},
	} {
		got, err := ExposedPorts(c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v %v, want %s", c.spec, got, err, c.want)
		}
	}
}

// FuzzExposedPorts: any EXPOSE word gives ports or an error, never a
// panic, and every port is "N/proto".
func FuzzExposedPorts(f *testing.F) {
	for _, s := range []string{"80", "8000-8002/udp", "1.2.3.4:80:80", "-", ":", "65535-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ports, err := ExposedPorts(spec)
		if err != nil {
			return
		}
		for _, p := range ports {
			if n, proto, ok := strings.Cut(p, "/"); !ok || n == "" || proto == "" {
				t.Fatalf("%q gave %q", spec, p)
			}
		}
	})
}
