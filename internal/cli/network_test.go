package cli

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func freeHostPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpGet fetches url from the host, retrying while the server starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			return string(b)
		}
		last = err
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// monitorPID finds the process that runs detached container id.
func monitorPID(t *testing.T, id string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		raw, err := os.ReadFile(d + "/cmdline")
		if err == nil && bytes.Contains(raw, []byte("container-monitor")) && bytes.Contains(raw, []byte(id)) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	t.Fatalf("no monitor process for %s", id)
	return 0
}

func hasLease(ip string) bool {
	_, err := os.Stat("/var/lib/cni/networks/strata/" + ip)
	return err == nil
}

// containerIP is the address /etc/hosts gives the container's hostname.
var hostsLine = regexp.MustCompile(`(?m)^(10\.87\.\d+\.\d+)\t([0-9a-f]{12})$`)

// TestBridgeNetwork: containers get a network of their own on the bridge,
// as docker's default; -p forwards a host port (fetched from the host over
// HTTP), two copies of one server on one container port do not collide,
// port and ps show the forwards as docker 20.10 does, and no namespace,
// address lease or forward outlives a container, whether removed or its
// monitor killed. Recorded from docker (docker run -d --name hb1 -p
// 18080:8000 -p 127.0.0.1:18081:8001/udp busybox httpd ...):
//
//	$ docker port hb1
//	8000/tcp -> 0.0.0.0:18080
//	8000/tcp -> [::]:18080          (docker's IPv6 proxy; strata forwards IPv4 only)
//	8001/udp -> 127.0.0.1:18081
//	$ docker port hb1 8000          -> 0.0.0.0:18080 (and [::]:18080)
//	$ docker port hb1 9999          -> exit 1, Error: No public port '9999' published for hb1
//	$ docker ps --format '{{.Ports}}' (with --expose 90, not published: "90/tcp")
//	$ docker exec hb1 cat /etc/hosts  -> last line "172.17.0.2\t422762cb302c"
func TestBridgeNetwork(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	server := "mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 8000 -h /www"
	p1, p2 := freeHostPort(t), freeHostPort(t)
	var ids []string
	for i, p := range []int{p1, p2} {
		out, errOut, code := sh(t, root, "run", "-d", "--name", "c"+strconv.Itoa(i+1), "-p", "127.0.0.1:"+strconv.Itoa(p)+":8000", "--expose", "90", "busybox", "sh", "-c", server)
		if code != 0 {
			t.Fatalf("run -d: %d %s", code, errOut)
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	for i, p := range []int{p1, p2} {
		if got := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(p)+"/"); got != ids[i][:12]+"\n" {
			t.Errorf("port %d serves %q, want container %d's hostname", p, got, i+1)
		}
	}
	steps := []struct {
		args    []string
		wantOut string // regexp
		wantErr string
		code    int
	}{
		{[]string{"port", "c1"}, `^8000/tcp -> 127.0.0.1:` + strconv.Itoa(p1) + `\n$`, ``, 0},
		{[]string{"port", "c1", "8000"}, `^127.0.0.1:` + strconv.Itoa(p1) + `\n$`, ``, 0},
		{[]string{"port", "c1", "9999"}, `^$`, `^Error: No public port '9999' published for c1\n$`, 1},
		{[]string{"ps", "--format", "{{.Names}} {{.Ports}}"}, `^c2 127.0.0.1:` + strconv.Itoa(p2) + `->8000/tcp, 90/tcp\nc1 127.0.0.1:` + strconv.Itoa(p1) + `->8000/tcp, 90/tcp\n$`, ``, 0},
		{[]string{"exec", "c1", "hostname"}, `^` + ids[0][:12] + `\n$`, ``, 0},
		{[]string{"run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"}, `^1: lo: `, ``, 0},
		{[]string{"run", "--rm", "--network", "nosuch", "busybox", "true"}, `^$`, `network nosuch not found`, 125},
	}
	for _, s := range steps {
		out, errOut, code := sh(t, root, s.args...)
		if code != s.code || !regexp.MustCompile(s.wantOut).MatchString(out) || !regexp.MustCompile(s.wantErr).MatchString(errOut) {
			t.Errorf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.code, out, s.wantOut, errOut, s.wantErr)
		}
	}
	hosts, _, _ := sh(t, root, "exec", "c1", "cat", "/etc/hosts")
	m := hostsLine.FindStringSubmatch(hosts)
	if m == nil || m[2] != ids[0][:12] || !hasLease(m[1]) {
		t.Fatalf("/etc/hosts does not name the container with its leased address:\n%s", hosts)
	}
	ip1 := m[1]

	// rm -f: the forward, the lease and the namespace go.
	if _, errOut, code := sh(t, root, "rm", "-f", "c1"); code != 0 {
		t.Fatal(errOut)
	}
	if hasLease(ip1) {
		t.Errorf("lease %s left after rm -f", ip1)
	}
	if c, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(p1), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still forwarded after rm -f", p1)
	}

	// The monitor killed: the next command finds the container exited,
	// kills what is left of it and detaches its network.
	hosts, _, _ = sh(t, root, "exec", "c2", "cat", "/etc/hosts")
	m = hostsLine.FindStringSubmatch(hosts)
	if m == nil {
		t.Fatalf("c2's /etc/hosts:\n%s", hosts)
	}
	if err := syscall.Kill(monitorPID(t, ids[1]), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	out, _, _ := sh(t, root, "ps", "-a", "--format", "{{.Names}} {{.Status}} [{{.Ports}}]")
	if !regexp.MustCompile(`^c2 Exited \(255\) .* ago \[\]\n$`).MatchString(out) {
		t.Errorf("ps after the monitor was killed: %q", out)
	}
	if hasLease(m[1]) {
		t.Errorf("lease %s left after the monitor was killed", m[1])
	}
	if _, err := os.Stat(filepath.Join(root, "containers", ids[1], "netns")); !os.IsNotExist(err) {
		t.Errorf("namespace file left: %v", err)
	}
	if out, _, _ := sh(t, root, "start", "c2"); out != "c2\n" {
		t.Fatalf("start again: %q", out)
	}
	if got := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(p2)+"/"); got != ids[1][:12]+"\n" {
		t.Errorf("after a restart port %d serves %q", p2, got)
	}
}
