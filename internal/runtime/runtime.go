package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Runtime is an OCI runtime binary (runc or crun: they share these
// commands) with the directory where it keeps container state.
type Runtime struct {
	Path string
	Root string
}

// ErrNoRuntime says neither runc nor crun is installed.
var ErrNoRuntime = errors.New("no OCI runtime found: install runc or crun, or give --runtime PATH")

// Find returns the runtime at path, or runc or crun from $PATH (and the
// sbin directories Debian installs them in).
func Find(path, stateRoot string) (*Runtime, error) {
	if path != "" {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("runtime %s: %w", path, err)
		}
		return &Runtime{Path: p, Root: stateRoot}, nil
	}
	for _, name := range []string{"runc", "crun"} {
		if p, err := exec.LookPath(name); err == nil {
			return &Runtime{Path: p, Root: stateRoot}, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return &Runtime{Path: p, Root: stateRoot}, nil
			}
		}
	}
	return nil, ErrNoRuntime
}

// Command returns the runtime invoked with args after its global flags.
func (r *Runtime) Command(args ...string) *exec.Cmd {
	global := []string{"--root", r.Root}
	if !cgroupsWritable() {
		// Inside a container whose /sys/fs/cgroup is mounted read-only
		// (docker without --cgroupns=private, CI sandboxes) runc cannot
		// make a cgroup and refuses to start. Its rootless cgroup mode
		// (crun: no cgroup manager) runs the container without one,
		// which is what such a host allows; nothing else changes, as
		// strata sets no resource limits.
		if strings.Contains(filepath.Base(r.Path), "crun") {
			global = append(global, "--cgroup-manager=disabled")
		} else {
			global = append(global, "--rootless=true")
		}
	}
	return exec.Command(r.Path, append(global, args...)...)
}

// cgroupsWritable reports whether a runtime can create cgroups here.
func cgroupsWritable() bool {
	dirs := []string{"/sys/fs/cgroup"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil { // cgroup v1
		dirs = []string{"/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/devices"}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		if unix.Access(d, unix.W_OK) != nil {
			return false
		}
	}
	return true
}

// Run returns the command that creates, starts and waits for the
// container of bundle in the foreground: its exit status is the
// container's (128+n when killed by signal n), and the runtime forwards
// the signals it receives to the container's process.
func (r *Runtime) Run(id, bundle string) *exec.Cmd {
	return r.Command("run", "--bundle", bundle, id)
}

// Kill sends sig (a name like TERM or a number) to the container's process.
func (r *Runtime) Kill(id, sig string) error {
	return r.quiet("kill", id, sig)
}

// Pause and Resume freeze and thaw the container's processes.
func (r *Runtime) Pause(id string) error  { return r.quiet("pause", id) }
func (r *Runtime) Resume(id string) error { return r.quiet("resume", id) }

// Delete removes what the runtime keeps of a stopped container (force:
// killing it first). A container it does not know is no error.
func (r *Runtime) Delete(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	err := r.quiet(append(args, id)...)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return nil
	}
	return err
}

// State is the runtime's state of a container.
type State struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

// State asks the runtime about a container.
func (r *Runtime) State(id string) (*State, error) {
	out, err := r.Command("state", id).Output()
	if err != nil {
		return nil, runErr(err)
	}
	var s State
	return &s, json.Unmarshal(out, &s)
}

// Exec returns the command that runs process p in the running container
// id, in the foreground.
func (r *Runtime) Exec(id, dir string, p *specs.Process) (*exec.Cmd, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "exec-*.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Write(raw); err != nil {
		return nil, err
	}
	args := []string{"exec", "--process", f.Name()}
	if p.Terminal {
		args = append(args, "--tty")
	}
	return r.Command(append(args, id)...), nil
}

func (r *Runtime) quiet(args ...string) error {
	var stderr bytes.Buffer
	c := r.Command(args...)
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", filepath.Base(r.Path), args[0], msg)
	}
	return nil
}

func runErr(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return errors.New(strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
