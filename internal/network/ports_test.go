package network

import (
	"net"
	"reflect"
	"strconv"
	"testing"
)

// TestParsePublish: -p values as docker 20.10 reads them. The errors were
// recorded from docker: `docker run -p 99999:80 busybox` says "invalid
// hostPort: 99999", `docker run -p 80/bogus busybox` "invalid proto:
// bogus" (both exit 125).
func TestParsePublish(t *testing.T) {
	cases := []struct {
		spec    string
		want    []Port
		wantErr string
	}{
		{"8080:80", []Port{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"127.0.0.1:18081:8001/udp", []Port{{HostIP: "127.0.0.1", HostPort: 18081, ContainerPort: 8001, Protocol: "udp"}}, ""},
		{"80", []Port{{ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"127.0.0.1::80", []Port{{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"8000-8001:80-81", []Port{{HostPort: 8000, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 8001, ContainerPort: 81, Protocol: "tcp"}}, ""},
		{"8000-8010:80", []Port{{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"99999:80", nil, "invalid hostPort: 99999"},
		{"80/bogus", nil, "invalid proto: bogus"},
		{"nope:80:80", nil, "invalid IP address: nope"},
	}
	for _, c := range cases {
		got, err := ParsePublish([]string{c.spec})
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("-p %s: error %v, want %q", c.spec, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("-p %s: %+v %v, want %+v", c.spec, got, err, c.want)
		}
	}
}

func TestExposedAndPublishAll(t *testing.T) {
	exposed, err := ParseExposed([]string{"90", "8000-8001/tcp", "53/UDP", "90/tcp"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"53/udp", "90/tcp", "8000/tcp", "8001/tcp"}; !reflect.DeepEqual(exposed, want) {
		t.Fatalf("exposed %v, want %v", exposed, want)
	}
	if _, err := ParseExposed([]string{"x/tcp"}); err == nil {
		t.Error("--expose x: no error")
	}
	all := PublishAll([]Port{{HostPort: 9000, ContainerPort: 90, Protocol: "tcp"}}, exposed)
	want := []Port{{HostPort: 9000, ContainerPort: 90, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"},
		{ContainerPort: 8000, Protocol: "tcp"}, {ContainerPort: 8001, Protocol: "tcp"}}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("-P: %+v, want %+v", all, want)
	}
}

// Resolve picks free host ports: any for a port without one, the first
// free one of a range (the first is taken here).
func TestResolve(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	got, err := Resolve([]Port{
		{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: taken, HostPortEnd: taken + 1, ContainerPort: 81, Protocol: "tcp"},
		{HostIP: "127.0.0.1", ContainerPort: 53, Protocol: "udp"},
		{HostPort: 8080, ContainerPort: 82, Protocol: "tcp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].HostPort == 0 || got[2].HostPort == 0 {
		t.Errorf("no port chosen: %+v", got)
	}
	if got[1].HostPort != taken+1 || got[1].HostPortEnd != 0 {
		t.Errorf("range: %+v, want port %d", got[1], taken+1)
	}
	if got[3].HostPort != 8080 {
		t.Errorf("a given port changed: %+v", got[3])
	}
	if got[0].Host() != "127.0.0.1:"+strconv.Itoa(got[0].HostPort) || (Port{HostPort: 1}).Host() != "0.0.0.0:1" {
		t.Errorf("Host: %s", got[0].Host())
	}
}

// FuzzParsePublish: any -p value parses or fails with an error, and what
// parses has ports in range and a protocol docker knows.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"8080:80", "127.0.0.1::80/udp", "[::1]:80:80", "8000-8010:80", "1-2:3-4/sctp", ":::80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParsePublish([]string{s})
		if err != nil {
			return
		}
		for _, p := range ports {
			if p.ContainerPort < 0 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 || p.HostPortEnd > 65535 {
				t.Fatalf("%q: port out of range: %+v", s, p)
			}
			switch p.Protocol {
			case "tcp", "udp", "sctp":
			default:
				t.Fatalf("%q: protocol %q", s, p.Protocol)
			}
		}
	})
}
