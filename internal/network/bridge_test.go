package network

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needBridge(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, d := range PluginDirs {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			return
		}
	}
	t.Fatal("no CNI bridge plugin: scripts/test.sh installs containernetworking-plugins")
}

// leases are host-local's address files of the strata network.
func leases(t *testing.T) map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir("/var/lib/cni/networks/" + Name)
	for _, e := range entries {
		if net.ParseIP(e.Name()) != nil {
			out[e.Name()] = true
		}
	}
	return out
}

// TestAttachDetach: a namespace gets an address of Subnet with lo up and
// a default route through the bridge; Detach and RemoveNS leave no lease,
// no namespace file and no forward chain of the container's.
func TestAttachDetach(t *testing.T) {
	needBridge(t)
	ns := filepath.Join(t.TempDir(), "netns")
	if err := NewNS(ns); err != nil {
		t.Fatal(err)
	}
	defer RemoveNS(ns)
	b, err := NewBridge()
	if err != nil {
		t.Fatal(err)
	}
	id := "strata-network-test"
	ports, err := Resolve([]Port{{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := b.Attach(context.Background(), id, ns, ports)
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, _ := net.ParseCIDR(Subnet)
	if ip := net.ParseIP(a.IP); ip == nil || !subnet.Contains(ip) || a.PrefixLen != 16 || a.Gateway == "" || a.MAC == "" {
		t.Errorf("attachment %+v: want an address of %s", a, Subnet)
	}
	if !leases(t)[a.IP] {
		t.Errorf("no lease for %s", a.IP)
	}
	out, err := exec.Command("nsenter", "--net="+ns, "ip", "-o", "addr").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v %s", err, out)
	}
	for _, want := range []string{"lo    inet 127.0.0.1/8", "eth0    inet " + a.IP + "/16"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("namespace lacks %q:\n%s", want, out)
		}
	}
	if err := b.Detach(context.Background(), id, ns, ports); err != nil {
		t.Fatal(err)
	}
	if leases(t)[a.IP] {
		t.Errorf("lease %s left after Detach", a.IP)
	}
	if err := RemoveNS(ns); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ns); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace file left: %v", err)
	}
	// A second teardown (after a crash, the namespace gone) is no error.
	if err := b.Detach(context.Background(), id, ns, ports); err != nil {
		t.Errorf("Detach again: %v", err)
	}
	if err := RemoveNS(ns); err != nil {
		t.Errorf("RemoveNS again: %v", err)
	}
}
