package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Slirp's fixed addresses (slirp4netns --configure): the container's, the
// gateway (the host) and its DNS forwarder.
const (
	SlirpIP      = "10.0.2.100"
	slirpGateway = "10.0.2.2"
)

// AttachSlirp connects the namespace at nsPath to the host's network
// through slirp4netns, a TCP/IP stack in a process of the user's, as
// rootless podman does: where strata runs without root no bridge or
// firewall rule can be made. Ports are forwarded by slirp4netns itself
// (its API socket at apiSocket, a path under 108 bytes), listening on the
// host. The process ends with Detach, or when the process that attached
// it ends (its exit pipe closes), so no crash leaves it running.
func AttachSlirp(ctx context.Context, nsPath, apiSocket string, ports []Port) (*Attachment, error) {
	path, err := exec.LookPath("slirp4netns")
	if err != nil {
		return nil, errors.New("a container's network without root needs slirp4netns (Debian's slirp4netns package), or use --network host")
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	os.Remove(apiSocket)
	cmd := exec.Command(path, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--netns-type=path", "--ready-fd=3", "--exit-fd=4", "--api-socket", apiSocket, nsPath, "tap0")
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not in the terminal's signals
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	// The write end stays open, unclosed and never written, for as long
	// as this process lives; closing it tells slirp4netns to end.
	exitWriters = append(exitWriters, exitW)
	a := &Attachment{IP: SlirpIP, PrefixLen: 24, Gateway: slirpGateway, Ports: ports, SlirpPID: cmd.Process.Pid}
	fail := func(err error) (*Attachment, error) {
		StopSlirp(a.SlirpPID)
		cmd.Wait()
		os.Remove(apiSocket)
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w: %s", err, s)
		}
		return nil, err
	}
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := readyR.Read(b[:])
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			return fail(errors.New("slirp4netns ended before it was ready"))
		}
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(30 * time.Second):
		return fail(errors.New("slirp4netns was not ready in 30s"))
	}
	go cmd.Wait() // reap it when it ends
	for _, p := range ports {
		if err := addHostForward(apiSocket, p); err != nil {
			return fail(fmt.Errorf("publish port %s: %w", p.Key(), err))
		}
	}
	return a, nil
}

// exitWriters keeps the exit pipes of the slirp4netns processes this
// process started open (a closed pipe would end them).
var exitWriters []*os.File

// addHostForward asks slirp4netns to forward p's host port to the
// container.
func addHostForward(apiSocket string, p Port) error {
	hostIP := p.HostIP
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	req, _ := json.Marshal(map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Protocol, "host_addr": hostIP, "host_port": p.HostPort, "guest_addr": SlirpIP, "guest_port": p.ContainerPort}})
	c, err := net.DialTimeout("unix", apiSocket, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return err
	}
	c.(*net.UnixConn).CloseWrite()
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	if resp.Error != nil {
		return errors.New(resp.Error.Desc)
	}
	return nil
}

// StopSlirp ends the slirp4netns process pid, if it is one.
func StopSlirp(pid int) {
	if pid <= 0 {
		return
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmdline), "slirp4netns") {
		return // ended already (the pid may be another's now)
	}
	syscall.Kill(pid, syscall.SIGTERM)
}

// SlirpUsable says why AttachSlirp cannot work here (nil when it can):
// slirp4netns must be installed and /dev/net/tun open to the user (Debian
// makes it 0666; some hosts keep it 0600).
func SlirpUsable() error {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		return errors.New("slirp4netns is not installed")
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
