package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Runtime is an OCI runtime binary (runc or crun: they share these
// commands) with the directory where it keeps container state.
type Runtime struct {
	Path string
	Root string
	// Named says the runtime was asked for (--runtime, $STRATA_RUNTIME),
	// not chosen by Find.
	Named bool
	// SeccompCache is the directory of the seccomp programs crun
	// compiled (CompiledSeccomp); "" keeps none.
	SeccompCache string
}

// ErrNoRuntime says neither runc nor crun is installed.
var ErrNoRuntime = errors.New("no OCI runtime found: install runc or crun, or give --runtime PATH")

// EnvRuntime is the environment variable that names the runtime when no
// --runtime is given, for every command that runs one (run, start, exec,
// build's RUN).
const EnvRuntime = "STRATA_RUNTIME"

// sbinDirs are where Debian installs runc and crun, searched after $PATH
// (a non-root user's PATH often lacks the sbin directories).
var sbinDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"}

// Find returns the runtime to use, keeping its state under stateRoot: the
// one at path (a file or a name), else the one $STRATA_RUNTIME names,
// else crun, else runc. This is the one place the choice is made.
func Find(path, stateRoot string) (*Runtime, error) {
	if path == "" {
		path = os.Getenv(EnvRuntime)
	}
	p, err := find(path, sbinDirs)
	if err != nil {
		return nil, err
	}
	return &Runtime{Path: p, Root: stateRoot, Named: path != ""}, nil
}

// ForTerminal is the runtime for a container run with a terminal (-t):
// runc where crun was chosen, not named. crun (1.8.1, and upstream
// still) gives the terminal of `run` no size (stty size fails, full-screen
// programs see 0x0; its exec does size it), and when strata relays the
// terminal (no terminal to hand: a script, a detached container's log) it
// writes what was left in the terminal at the container's end to its
// stderr: the end of the output came out on stderr in half of the runs
// on a loaded 2-CPU machine, runc's in none of 30.
func (r *Runtime) ForTerminal() *Runtime {
	if !r.isCrun() || r.Named {
		return r
	}
	p, err := lookPath("runc", sbinDirs)
	if err != nil {
		return r
	}
	return &Runtime{Path: p, Root: r.Root, SeccompCache: r.SeccompCache}
}

// find resolves the runtime binary: path when given, else crun, else
// runc, each looked up in $PATH and then in dirs. crun comes first: it
// starts a container in about a third of runc's time (7.6 ms against
// 22-25 ms for `run` of a ready bundle here: no Go runtime to start, no
// re-exec of itself), and on a host with cgroups in hybrid mode Start
// hides the v2 hierarchy it would refuse; where it cannot run at all
// (crunRefusal) runc comes first. A container keeps the runtime that
// made it (owner).
func find(path string, dirs []string) (string, error) {
	if path != "" {
		p, err := lookPath(path, dirs)
		if err != nil {
			return "", fmt.Errorf("runtime %s: %w", path, err)
		}
		return p, nil
	}
	order := []string{"crun", "runc"}
	if crunRefusal(cgroupRoot) != "" {
		order = []string{"runc", "crun"}
	}
	for _, name := range order {
		if p, err := lookPath(name, dirs); err == nil {
			return p, nil
		}
	}
	return "", ErrNoRuntime
}

// Choice says which runtime Find picks without a path or $STRATA_RUNTIME
// and why, in one line (for `strata version`).
func Choice() string {
	p, why, err := Chosen()
	if err != nil {
		return err.Error()
	}
	return p + " (" + why + ")"
}

// Chosen is the runtime Find picks without a path or $STRATA_RUNTIME,
// and why.
func Chosen() (path, why string, err error) {
	p, err := find("", sbinDirs)
	if err != nil {
		return "", "", err
	}
	why = "the fastest to start a container"
	if filepath.Base(p) != "crun" {
		why = "crun is not installed"
		if reason := crunRefusal(cgroupRoot); reason != "" {
			if _, err := lookPath("crun", sbinDirs); err == nil {
				why = "crun cannot run containers here: " + reason
			}
		}
	}
	return p, why, nil
}

// Cgroups says the host's cgroup version ("2", "1", or "1 (hybrid, v2
// at unified)") and how containers get theirs: "cgroupfs" (made by the
// runtime) or "none" where this process cannot write cgroups (limits
// are then refused).
func Cgroups() (version, driver string) {
	version = "1"
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		version = "2"
	} else if _, err := os.Stat(filepath.Join(cgroupRoot, "unified", "cgroup.controllers")); err == nil {
		version = "1 (hybrid, v2 at unified)"
	}
	driver = "cgroupfs"
	if !cgroupsWritable(cgroupRoot) {
		driver = "none (" + cgroupRoot + " cannot be written: --memory, --cpus and --pids-limit are refused)"
	}
	return version, driver
}

// crunRefusal says why crun cannot make containers on this host, "" when
// it can. On cgroup v2 crun loads its device filter as an eBPF program
// and first raises RLIMIT_MEMLOCK, which needs CAP_SYS_RESOURCE: a root
// without it (a sandboxed CI machine) gets "setrlimit (RLIM_MEMLOCK):
// Operation not permitted" for every container, where runc runs.
func crunRefusal(root string) string {
	// Every command that runs a container asks: on cgroup v1 or hybrid
	// (the stat fails) the limit and /proc/self/status are not read.
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		if hybridWithV2Controllers(root) && !cgroupsWritable(root) {
			// Start cannot hide the v2 hierarchy where cgroups are not
			// ours (a user namespace: its inherited mounts are locked),
			// and crun refuses such a host even without cgroups.
			return "cgroups in hybrid mode with v2 controllers, and no cgroups of its own to hide them"
		}
		return crunRefusalFor(false, false, false)
	}
	var lim unix.Rlimit
	unlimited := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) == nil && lim.Max == unix.RLIM_INFINITY
	return crunRefusalFor(true, unlimited, unlimited || hasCapability(unix.CAP_SYS_RESOURCE))
}

// crunRefusalFor is crunRefusal on the host's facts: a cgroup v2 root,
// an unlimited RLIMIT_MEMLOCK, CAP_SYS_RESOURCE.
func crunRefusalFor(v2, memlockUnlimited, sysResource bool) string {
	if !v2 || memlockUnlimited || sysResource {
		return "" // v1 or hybrid has no eBPF device filter; else the raise works
	}
	return "cgroup v2 without CAP_SYS_RESOURCE (crun must raise RLIMIT_MEMLOCK for its eBPF device filter)"
}

// hasCapability reads the effective capability set of this process.
func hasCapability(c int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true // unknown: assume the usual root
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err != nil || v&(1<<uint(c)) != 0
		}
	}
	return true
}

// lookPath is exec.LookPath, then a bare name's executable in dirs.
func lookPath(name string, dirs []string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") {
		return p, err
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if fi, serr := os.Stat(p); serr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", err
}

// Command returns the runtime invoked with args after its global flags.
func (r *Runtime) Command(args ...string) *exec.Cmd {
	return exec.Command(r.Path, append(r.globalFlags(cgroupsWritable(cgroupRoot)), args...)...)
}

// globalFlags are the flags given before every command: the state root,
// and how to do without cgroups where they cannot be made.
func (r *Runtime) globalFlags(cgroupsWritable bool) []string {
	global := []string{"--root", r.Root}
	if !cgroupsWritable {
		// Inside a container whose /sys/fs/cgroup is mounted read-only
		// (docker without --cgroupns=private, CI sandboxes) runc cannot
		// make a cgroup and refuses to start. Its rootless cgroup mode
		// (crun: no cgroup manager) runs the container without one,
		// which is what such a host allows; Spec refuses a container
		// that asks for limits there.
		if r.isCrun() {
			global = append(global, "--cgroup-manager=disabled")
		} else {
			global = append(global, "--rootless=true")
		}
	}
	return global
}

func (r *Runtime) isCrun() bool { return strings.Contains(filepath.Base(r.Path), "crun") }

// Start starts cmd, a command of this runtime that makes a container
// (Run). crun refuses to make one on a host with cgroups in hybrid mode
// (v1 controllers, and the v2 hierarchy at /sys/fs/cgroup/unified) if a
// controller is enabled in v2, as in some CI sandboxes; runc uses v1 there.
// crun is then started in a mount namespace of its own without the v2
// hierarchy, where it sees a cgroup v1 host, which it is for every
// controller crun uses.
func (r *Runtime) Start(cmd *exec.Cmd) error {
	if !r.isCrun() || !hybridWithV2Controllers(cgroupRoot) {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		// The namespace is this thread's, and a child is forked from the
		// thread that starts it. The thread is never given back to the
		// scheduler (no UnlockOSThread): it ends with the goroutine.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare the mount namespace: %w", err)
			return
		}
		// Private first: the unmount must not reach the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make / private: %w", err)
			return
		}
		if err := unix.Unmount(filepath.Join(cgroupRoot, "unified"), unix.MNT_DETACH); err != nil {
			errc <- fmt.Errorf("hide the cgroup v2 hierarchy from crun: %w", err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// hybridWithV2Controllers reports whether the cgroups mounted at root are
// in hybrid mode (a tmpfs of v1 hierarchies, v2 at unified) with a
// controller enabled in v2.
func hybridWithV2Controllers(root string) bool {
	var st unix.Statfs_t
	if unix.Statfs(root, &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return false
	}
	unified := filepath.Join(root, "unified")
	if unix.Statfs(unified, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	b, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	return err == nil && len(strings.TrimSpace(string(b))) > 0
}

// cgroupRoot is where the cgroup hierarchy is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupsWritable reports whether a runtime can create cgroups under the
// hierarchy mounted at root: the unified one (cgroup v2), or v1's
// controllers that runc and crun need.
func cgroupsWritable(root string) bool {
	dirs := []string{root}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil { // cgroup v1
		dirs = nil
		for _, c := range []string{"cpuset", "memory", "pids", "devices"} {
			dirs = append(dirs, filepath.Join(root, c))
		}
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
// the signals it receives to the container's process. Start it with
// Start.
func (r *Runtime) Run(id, bundle string) *exec.Cmd {
	return r.Command("run", "--bundle", bundle, id)
}

// Kill sends sig (a name like TERM or a number) to the container's process.
func (r *Runtime) Kill(id, sig string) error {
	return r.owner(id).quiet("kill", id, sig)
}

// Pause and Resume freeze and thaw the container's processes.
func (r *Runtime) Pause(id string) error  { return r.owner(id).quiet("pause", id) }
func (r *Runtime) Resume(id string) error { return r.owner(id).quiet("resume", id) }

// owner is the runtime that keeps container id's state: runc writes
// ROOT/ID/state.json, crun ROOT/ID/status. A container made by the other
// runtime (before crun was preferred, or under another STRATA_RUNTIME)
// is killed, inspected and deleted by the one that made it: the other
// would answer "container does not exist" while it runs on.
func (r *Runtime) owner(id string) *Runtime {
	if r.Root == "" {
		return r
	}
	other := ""
	switch {
	case r.isCrun() && exists(filepath.Join(r.Root, id, "state.json")):
		other = "runc"
	case !r.isCrun() && exists(filepath.Join(r.Root, id, "status")):
		other = "crun"
	default:
		return r
	}
	p, err := lookPath(other, sbinDirs)
	if err != nil {
		return r
	}
	return &Runtime{Path: p, Root: r.Root}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Delete removes what the runtime keeps of a stopped container (force:
// killing it first). A container it does not know is no error.
func (r *Runtime) Delete(id string, force bool) error {
	// runc and crun keep a container's state in ROOT/ID: without it there
	// is nothing to delete, and a run spares a runtime call (~20 ms).
	if _, err := os.Lstat(filepath.Join(r.Root, id)); r.Root != "" && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	err := r.owner(id).quiet(append(args, id)...)
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
	out, err := r.owner(id).Command("state", id).Output()
	if err != nil {
		return nil, runErr(err)
	}
	var s State
	return &s, json.Unmarshal(out, &s)
}

// Exec returns the command that runs o in the running container id, in
// the foreground, as docker execs: the container's own process (read from
// config.json in its bundle: capabilities, seccomp's no-new-privileges,
// rlimits) with o's program, environment, user, directory and terminal.
// The process file it reads is written in the bundle: the caller removes
// it (processFile) once the command has run.
func (r *Runtime) Exec(id, bundle string, o Process) (cmd *exec.Cmd, processFile string, err error) {
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, "", fmt.Errorf("the container's config: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil || s.Process == nil {
		return nil, "", fmt.Errorf("the container's config %s is damaged: %v", filepath.Join(bundle, "config.json"), err)
	}
	p := execProcess(s.Process, o)
	if raw, err = json.Marshal(p); err != nil {
		return nil, "", err
	}
	f, err := os.CreateTemp(bundle, "exec-*.json")
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if _, err := f.Write(raw); err != nil {
		os.Remove(f.Name())
		return nil, "", err
	}
	args := []string{"exec", "--process", f.Name()}
	if p.Terminal {
		args = append(args, "--tty")
	}
	if o.Detach {
		args = append(args, "--detach")
	}
	return r.owner(id).Command(append(args, id)...), f.Name(), nil
}

// execProcess is the process of an exec in a container whose own process
// is base.
func execProcess(base *specs.Process, o Process) *specs.Process {
	p := *base
	own := process(o)
	p.Terminal, p.Args, p.Env, p.Cwd, p.User = own.Terminal, own.Args, own.Env, own.Cwd, own.User
	p.ConsoleSize = own.ConsoleSize // the exec's terminal, not the container process's
	return &p
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

// swapAccounted reports whether the cgroup v1 memory controller at root
// limits swap (the kernel's swap accounting): the runtimes fail to set a
// swap limit where it does not. On cgroup v2 no swap limit is set.
func swapAccounted(root string) bool {
	_, err := os.Stat(filepath.Join(root, "memory", "memory.memsw.limit_in_bytes"))
	return err == nil
}
