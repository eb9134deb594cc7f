package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/executor"
)

// ExitError is a container's exit status (Err nil), or the status docker
// gives a container that could not start (126 not executable, 127 not
// found): the cli passes the code through as the process's own.
type ExitError = errdefs.ExitError

// Stdio is where a container's standard streams go: the executor's.
type Stdio = executor.Stdio

// RuntimePaths are the container paths strata fills with mounts: kept out
// of diff, commit and export, as docker keeps them in its init layer.
var RuntimePaths = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/sys", "/dev"}

func (r *Record) excluded() []string {
	out := append([]string{}, RuntimePaths...)
	for _, v := range r.Config.Volumes {
		out = append(out, v.Target)
	}
	return append(out, r.Config.Sandbox.Targets()...)
}

// Start runs the container in this process: its output goes to stdio, the
// signals this process receives go to the container, and it returns when
// the container exits, with the container's exit status as an *ExitError
// (nil for 0). A container made with --rm is removed after.
func (m *Manager) Start(r *Record, stdio Stdio) error {
	if !r.Config.Tty {
		// Kept in the log too, as docker keeps a foreground container's
		// output. A terminal's output is not: the runtime must be given
		// the terminal itself.
		log, err := m.openLog(r.ID)
		if err != nil {
			return err
		}
		defer log.Close()
		out, errs := log.stream("stdout"), log.stream("stderr")
		defer out.Close()
		defer errs.Close()
		stdio.Stdout, stdio.Stderr = io.MultiWriter(stdio.Stdout, out), io.MultiWriter(stdio.Stderr, errs)
	}
	code, err := m.monitor(r, stdio, nil)
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// startResult is what a detached monitor reports once the container runs
// (or could not be started).
type startResult struct {
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// StartDetached starts a monitor process (self with args, which calls
// Monitor) that runs the container with its output in the log, and
// returns once the container runs.
func (m *Manager) StartDetached(r *Record, self string, args []string) error {
	if m.State(r.ID).Status == Running {
		return nil // docker start of a running container does nothing
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{pw}
	// A session of its own: the monitor outlives this command and its
	// terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return err
	}
	pw.Close()
	go cmd.Wait() // reap it if it ends while we wait
	// One JSON value, not to EOF: the container may hold the pipe open.
	var res startResult
	if err := json.NewDecoder(pr).Decode(&res); err != nil {
		return fmt.Errorf("container %s: the monitor process ended before starting it", r.Name)
	}
	if res.Error != "" {
		return &ExitError{Code: res.Code, Err: errors.New(res.Error)}
	}
	return nil
}

// Monitor runs a container detached: called in the monitor process that
// StartDetached starts, with the result pipe as fd 3.
func (m *Manager) Monitor(r *Record) error {
	// Not inherited by the runtime and the container.
	unix.CloseOnExec(3)
	report := os.NewFile(3, "start-result")
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	log, err := m.openLog(r.ID)
	if err != nil {
		json.NewEncoder(report).Encode(startResult{Error: err.Error(), Code: 125})
		return err
	}
	defer log.Close()
	out, errs := log.stream("stdout"), log.stream("stderr")
	defer out.Close()
	defer errs.Close()
	stdin, err := m.detachedStdin(r)
	if err != nil {
		json.NewEncoder(report).Encode(startResult{Error: err.Error(), Code: 125})
		return err
	}
	defer stdin.Close()
	_, err = m.monitor(r, Stdio{Stdin: stdin, Stdout: out, Stderr: errs}, report)
	return err
}

// monitor runs the container with the executor and waits for it. report,
// when given, receives the start result (then is closed).
func (m *Manager) monitor(r *Record, stdio Stdio, report *os.File) (code int, err error) {
	reported := false
	sendReport := func(err error, code int) {
		if report == nil || reported {
			return
		}
		reported = true
		res := startResult{Code: code}
		if err != nil {
			res.Error = err.Error()
		}
		json.NewEncoder(report).Encode(res)
		report.Close()
	}
	defer func() { sendReport(err, 125) }()

	lock, err := m.lockFile(r.ID, "monitor.lock", unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return 0, fmt.Errorf("container %s is already running", r.Name)
	}
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	ex, err := m.executor()
	if err != nil {
		return 0, err
	}
	mounts, err := m.SN.Mounts(r.Snapshot)
	if err != nil {
		return 0, err
	}
	var netns string
	if r.Config.Network == NetworkBridge {
		if netns, err = m.attach(context.Background(), r); err != nil {
			return 0, err
		}
		defer func() {
			if derr := m.detach(r); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	var state State
	stopHealth := func() {}
	defer func() { stopHealth() }()
	spec := executor.Spec{
		ID: r.ID, Bundle: m.bundle(r.ID), Rootfs: mounts, Mounts: volumeMounts(r.Config.Volumes),
		Hostname: r.Config.Hostname, Network: r.Config.Network, NetNS: netns, Etc: executor.ContainerEtc, EtcDir: m.Dir(r.ID),
		Sandbox: r.Config.Sandbox, Stdio: stdio, Signals: sigs,
		// A --rm container's writable layer is thrown away: its unmount
		// need not sync the upper filesystem (all of it: other writers'
		// data too, hundreds of ms on a busy disk).
		Volatile: r.Config.AutoRemove,
		Prepare: func(rootfs string, p *executor.Process) error {
			if code, err := m.process(r, rootfs, p); err != nil {
				state := m.State(r.ID)
				state.ExitCode, state.Error = code, err.Error()
				m.setState(r.ID, state)
				sendReport(err, code)
				return &ExitError{Code: code, Err: err}
			}
			state = State{Status: Running, StartedAt: time.Now().UTC()}
			if err := m.setState(r.ID, state); err != nil {
				return err
			}
			m.event(r, "start")
			return nil
		},
	}
	if report != nil || r.Config.Healthcheck != nil {
		// Reported once the runtime knows the container, so that exec or
		// kill right after run -d find it; the health checks exec in it.
		spec.Started = func() {
			sendReport(nil, 0)
			stopHealth = m.startHealth(r)
		}
	}
	code, err = ex.Run(context.Background(), spec)
	// The health checks end with the process, before its die event: a
	// probe the death interrupted reports nothing after it.
	stopHealth()
	stopHealth = func() {}
	if err != nil {
		if state.Status == Running { // the runtime did not run it
			state = State{Status: Exited, ExitCode: 125, Error: err.Error(), FinishedAt: time.Now().UTC()}
			m.setState(r.ID, state)
		}
		return 0, err
	}
	state.Status, state.ExitCode, state.FinishedAt = Exited, code, time.Now().UTC()
	if err := m.setState(r.ID, state); err != nil {
		return code, err
	}
	m.eventLater(r, "die", "exitCode", strconv.Itoa(code))
	if r.Config.AutoRemove {
		lock.Close()
		return code, m.remove(r)
	}
	return code, nil
}

// executor is the executor on the container runtime.
func (m *Manager) executor() (*executor.OCI, error) {
	rt, err := m.runtime()
	if err != nil {
		return nil, err
	}
	return executor.New(rt), nil
}

// process fills in the process of a container whose rootfs is mounted:
// the user, working directory and program are looked up in it, with the
// exit code docker gives when they are wrong.
func (m *Manager) process(r *Record, rootfs string, p *executor.Process) (int, error) {
	c := r.Config
	u, err := resolveUser(rootfs, c.User, c.GroupAdd)
	if err != nil {
		return 125, err
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	// docker makes a missing working directory.
	if rel, err := resolveIn(rootfs, cwd, true, true); err == nil {
		if err := os.MkdirAll(filepath.Join(rootfs, rel), 0o755); err != nil {
			return 125, err
		}
	} else {
		return 125, fmt.Errorf("working directory %s: %w", cwd, err)
	}
	env := append([]string{}, c.Env...)
	has := func(k string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("HOSTNAME") {
		env = append([]string{"HOSTNAME=" + c.Hostname}, env...)
	}
	// docker's process environment starts with the default PATH whenever
	// the config has none (an imported image's, or one with other
	// variables only).
	if !has("PATH") {
		env = append([]string{"PATH=" + DefaultPath}, env...)
	}
	if c.Tty && !has("TERM") {
		env = append(env, "TERM=xterm")
	}
	if !has("HOME") {
		env = append(env, "HOME="+u.Home)
	}
	args := c.Args()
	if _, code, err := lookPath(rootfs, args[0], cwd, env); err != nil {
		return code, err
	}
	for _, v := range c.Volumes {
		if _, err := os.Stat(v.Source); errors.Is(err, os.ErrNotExist) {
			// docker makes a missing host directory.
			if err := os.MkdirAll(v.Source, 0o755); err != nil {
				return 125, err
			}
		}
	}
	*p = executor.Process{Args: args, Env: env, Cwd: path.Clean(cwd), UID: u.UID, GID: u.GID, Groups: u.Groups, Terminal: c.Tty}
	return 0, nil
}

// volumeMounts are the runtime mounts of -v volumes.
func volumeMounts(vols []Volume) []specs.Mount {
	var mounts []specs.Mount
	for _, v := range vols {
		opts := []string{"rbind", "rprivate"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		mounts = append(mounts, specs.Mount{Destination: v.Target, Type: "bind", Source: v.Source, Options: opts})
	}
	return mounts
}

// Kill sends a signal to a running container's process.
func (m *Manager) Kill(r *Record, sig string) error {
	if m.State(r.ID).Status != Running {
		return fmt.Errorf("cannot kill container: %s: container %s is not running", r.Name, r.ID[:12])
	}
	rt, err := m.runtime()
	if err != nil {
		return err
	}
	sig = strings.TrimPrefix(strings.ToUpper(sig), "SIG")
	num := sig
	if n := unix.SignalNum("SIG" + sig); n != 0 {
		num = strconv.Itoa(int(n))
	}
	// Logged before it is sent: the monitor logs the container's die as
	// soon as the signal ends it, which must come after its cause.
	m.event(r, "kill", "signal", num)
	if err := rt.Kill(r.ID, sig); err != nil {
		return err
	}
	if m.State(r.ID).Paused {
		// A frozen process gets its signal once thawed, as docker
		// resumes a paused container it kills.
		return m.resume(r)
	}
	return nil
}

// Stop sends sig, or when it is "" the stop signal (SIGTERM unless the
// image says otherwise), and SIGKILL if the container still runs after
// timeout. Stopping a stopped container does nothing.
func (m *Manager) Stop(r *Record, sig string, timeout time.Duration) error {
	if m.State(r.ID).Status != Running {
		return nil
	}
	if sig == "" {
		sig = r.Config.StopSignal
	}
	if sig == "" {
		sig = "TERM"
	}
	if err := m.Kill(r, sig); err != nil && m.State(r.ID).Status == Running {
		return err
	}
	if !m.waitMonitor(r.ID, timeout) {
		if err := m.Kill(r, "KILL"); err != nil && m.State(r.ID).Status == Running {
			return err
		}
		if !m.waitMonitor(r.ID, 30*time.Second) {
			return fmt.Errorf("container %s did not stop", r.Name)
		}
	}
	m.event(r, "stop")
	return nil
}

// waitMonitor waits until no process runs the container, at most timeout.
func (m *Manager) waitMonitor(id string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for m.monitored(id) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Wait blocks until the container is not running and returns its exit
// code.
func (m *Manager) Wait(r *Record) (int, error) {
	f, err := m.lockFile(r.ID, "monitor.lock", unix.LOCK_SH)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%w: %s", ErrNoSuchContainer, r.Name)
		}
		return 0, err
	}
	f.Close()
	return m.State(r.ID).ExitCode, nil
}

// ExecOptions are the options of exec.
type ExecOptions struct {
	Args       []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	// Detach returns once the process started (docker's exec -d).
	Detach bool
}

// Exec runs another process in a running container, in the foreground.
func (m *Manager) Exec(r *Record, o ExecOptions, stdio Stdio) error {
	if m.State(r.ID).Status != Running {
		return fmt.Errorf("container %s is not running", r.ID[:12])
	}
	ex, err := m.executor()
	if err != nil {
		return err
	}
	p, err := m.execProcess(r, o)
	if err != nil {
		return err
	}
	died := m.execEvents(r, p.Args)
	code, err := ex.Exec(r.ID, m.bundle(r.ID), p, stdio)
	if err != nil {
		return err
	}
	died(code)
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// execProcess is the process o runs in the container: its user, its
// environment and working directory over the container's, its program
// looked up in the container's filesystem.
func (m *Manager) execProcess(r *Record, o ExecOptions) (executor.Process, error) {
	rootfs := m.Rootfs(r.ID)
	user := o.User
	if user == "" {
		user = r.Config.User
	}
	u, err := resolveUser(rootfs, user, r.Config.GroupAdd)
	if err != nil {
		return executor.Process{}, err
	}
	env, err := ParseEnv(r.Config.Env, o.Env, nil)
	if err != nil {
		return executor.Process{}, err
	}
	cwd := o.WorkingDir
	if cwd == "" {
		cwd = r.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if _, _, err := lookPath(rootfs, o.Args[0], cwd, env); err != nil {
		if o.Detach {
			return executor.Process{}, err // docker 20.10: an error of the daemon, exit 1
		}
		// docker 20.10's exec exits 126 whether the program is missing
		// or not executable (run tells the two apart: 127, 126).
		return executor.Process{}, &ExitError{Code: 126, Err: err}
	}
	return executor.Process{Args: o.Args, Env: env, Cwd: cwd, UID: u.UID, GID: u.GID, Groups: u.Groups, Terminal: o.Tty, Detach: o.Detach}, nil
}
