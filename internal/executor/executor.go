// Package executor runs one process in a container made of a snapshot's
// mounts: the one way strata runs a process, shared by the build's RUN and
// by run/start/exec. It mounts the root filesystem under a bundle
// directory, gives the container /etc/hosts, /etc/hostname and
// /etc/resolv.conf as docker does (for a build or for a container), writes
// the OCI bundle, runs it with runc or crun (internal/runtime, whose Find
// is the one place the runtime is chosen), forwards signals, and kills and
// deletes the container when the context is cancelled. What it mounted
// and wrote is gone when Run returns (or, with Spec.Unmounting, when the
// unmount it reports has ended).
//
// Executor is an interface so that the build can be given another (its
// tests give a fake one that writes files instead of running programs).
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/runtime"
	"github.com/strata-dev/strata/internal/sandbox"
	"github.com/strata-dev/strata/internal/snapshot"
)

// Executor runs a container's process to its end.
type Executor interface {
	// Run runs s's process and returns its exit status (128+n when it
	// was killed by signal n). err is set when it could not be run, or
	// when ctx was cancelled (the container was killed and deleted).
	Run(ctx context.Context, s Spec) (exit int, err error)
}

// Process is the program a container runs and how.
type Process = runtime.Process

// Stdio is where a process's standard streams go. Files are handed to the
// runtime as they are (a terminal stays a terminal); other readers and
// writers are copied through pipes. A nil Stdin reads nothing.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Spec is one container run.
type Spec struct {
	// ID names the container in the runtime's state.
	ID string
	// Bundle is the bundle directory (made if missing): the rootfs is
	// mounted at Bundle/rootfs and config.json written beside it.
	Bundle string
	// Rootfs are the mounts of the root filesystem, as a snapshotter
	// returns them.
	Rootfs []snapshot.Mount
	// Volatile mounts an overlay rootfs without syncs, for a snapshot
	// that is synced once, when committed (where the kernel lacks it, the
	// mount is made as usual).
	Volatile bool
	Process  Process
	// Prepare, when set, is called with the mounted rootfs before the
	// bundle is written: to look up the user, the working directory or
	// the program in the container's files and fill in Process. Its error
	// is returned by Run as it is.
	Prepare func(rootfs string, p *Process) error
	// Mounts are added after the standard ones and the /etc files:
	// volumes, RUN --mount.
	Mounts []specs.Mount
	// Sandbox is the container's confinement and limits: its zero value
	// is docker's defaults (capabilities, seccomp profile, masked paths),
	// which a build's RUN has too. Its ExtraHosts go into /etc/hosts.
	Sandbox sandbox.Options
	// Hostname is the container's (with BuildEtc, "" is BuildHostname).
	Hostname string
	// Network is "host" (the host's network) or "none" (a namespace of
	// its own with only loopback).
	Network string
	// NetNS, when set, is a network namespace to join instead (a
	// container's on the bridge).
	NetNS string
	// Etc says how /etc/hosts, /etc/hostname and /etc/resolv.conf are
	// made; EtcDir holds them for ContainerEtc.
	Etc    EtcPolicy
	EtcDir string
	Stdio  Stdio
	// Signals, when set, are forwarded to the container's process, and
	// the runtime runs in a process group of its own (unless the process
	// has a terminal, which the runtime must read in the foreground), so
	// that a terminal's signals reach the container once, through here.
	Signals <-chan os.Signal
	// Started, when set, is called once the runtime has made the
	// container (so that a kill or an exec finds it), or has exited
	// trying.
	Started func()
	// Unmounting, when set, lets Run return as soon as the process has
	// ended: the rootfs is unmounted (and the bundle removed) in the
	// background, and Unmounting is called, before Run returns, with the
	// channel that gives the result. A build reads the snapshot's upper
	// directory meanwhile: unmounting an overlay of 100,000 new files
	// takes a third of a second of kernel time. Executors that unmount
	// before returning never call it.
	Unmounting func(done <-chan error)
}

// OCI is the Executor on an OCI runtime (runc or crun).
type OCI struct {
	rt *runtime.Runtime
}

// New returns the executor that runs containers with rt.
func New(rt *runtime.Runtime) *OCI { return &OCI{rt: rt} }

// Runtime is the runtime the executor runs.
func (e *OCI) Runtime() *runtime.Runtime { return e.rt }

// Run implements Executor.
func (e *OCI) Run(ctx context.Context, s Spec) (exit int, err error) {
	rootfs := filepath.Join(s.Bundle, "rootfs")
	var written []string // files of the bundle to remove after
	release := func() error {
		if err := snapshot.Unmount(rootfs); err != nil {
			return err // not removed: the mount point is busy
		}
		for _, p := range append(written, rootfs) {
			os.Remove(p)
		}
		// Left when the caller keeps files of its own there.
		os.Remove(s.Bundle)
		return nil
	}
	defer func() {
		if s.Unmounting != nil {
			done := make(chan error, 1)
			go func() { done <- release() }()
			s.Unmounting(done)
			return
		}
		if uerr := release(); uerr != nil && err == nil {
			err = uerr
		}
	}()
	// Private: config.json holds the environment, secrets included.
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return 0, err
	}
	// Not mounted twice (a run killed before it unmounted).
	snapshot.Unmount(rootfs)
	if err := mountRootfs(s, rootfs); err != nil {
		return 0, err
	}
	p := s.Process
	if s.Prepare != nil {
		if err := s.Prepare(rootfs, &p); err != nil {
			return 0, err
		}
	}
	if p.Terminal {
		// The terminal is made with the caller's size: a resize after
		// the start comes too late for a process that asks at once
		// (`stty size` read 0 rows on a busy machine).
		p.ConsoleSize = consoleSize(s.Stdio.Stdin)
	}
	etc, files, err := etcMounts(s)
	written = append(written, files...)
	if err != nil {
		return 0, err
	}
	spec, err := runtime.Spec(runtime.Options{
		ID: s.ID, Rootfs: rootfs, Process: p,
		Hostname: hostname(s), Network: s.Network, NetNS: s.NetNS, Mounts: append(etc, s.Mounts...),
		Sandbox: s.Sandbox,
	})
	if err != nil {
		return 0, err
	}
	rt := e.rt
	if p.Terminal {
		rt = rt.ForTerminal()
	}
	keepSeccomp := rt.CompiledSeccomp(s.ID, spec)
	defer keepSeccomp()
	written = append(written, filepath.Join(s.Bundle, "config.json"))
	if err := runtime.WriteBundle(s.Bundle, spec); err != nil {
		return 0, err
	}
	if err := e.deleteLeftover(s.ID); err != nil {
		return 0, err
	}
	return e.run(ctx, s, rt, p.Terminal)
}

// run starts the runtime rt on the written bundle and waits for it.
func (e *OCI) run(ctx context.Context, s Spec, rt *runtime.Runtime, terminal bool) (int, error) {
	cmd := rt.Run(s.ID, s.Bundle)
	relay, err := attach(cmd, s.Stdio, terminal)
	if err != nil {
		return 0, err
	}
	if s.Signals != nil && !terminal {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := rt.Start(cmd); err != nil {
		relay.abort()
		return 0, err
	}
	relay.start(s.Stdio)
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		relay.wait()
		exited <- err
	}()
	if s.Started != nil {
		e.waitCreated(s.ID, exited)
		s.Started()
	}
	for {
		select {
		case werr := <-exited:
			e.deleteLeftover(s.ID)
			return exitStatus(werr)
		case sig := <-s.Signals: // never, when nil
			// The runtime forwards what it receives to the container's
			// process.
			cmd.Process.Signal(sig)
		case <-ctx.Done():
			e.kill(s.ID, exited)
			e.rt.Delete(s.ID, true)
			return 0, ctx.Err()
		}
	}
}

// kill kills the container until its runtime exits: a kill sent while
// the runtime is still making the container finds nothing to kill, so it
// is sent again.
func (e *OCI) kill(id string, exited <-chan error) {
	for {
		e.rt.Kill(id, "KILL")
		select {
		case <-exited:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitCreated polls the runtime until it has started container id's
// process, the runtime exits (its result is put back for the caller), or
// 10s pass. Not merely created: a kill between create and start (while
// the runtime loads the seccomp filter) fails the runtime with status 1
// rather than killing the process.
func (e *OCI) waitCreated(id string, exited chan error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return
		default:
		}
		if st, err := e.rt.State(id); err == nil && st.Status != "creating" && st.Status != "created" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deleteLeftover deletes what the runtime keeps of container id, if it
// keeps anything: a crashed run's state, or a run whose runtime did not
// delete it (Delete asks the runtime only when there is state).
func (e *OCI) deleteLeftover(id string) error {
	return e.rt.Delete(id, true)
}

// Exec runs p in the running container id, whose bundle is bundle, in
// the foreground, confined as the container's own process is (its
// capabilities, seccomp, rlimits). It returns p's exit status; with
// p.Detach it returns once p started, its output going nowhere (docker's
// exec -d).
func (e *OCI) Exec(id, bundle string, p Process, stdio Stdio) (int, error) {
	return e.ExecContext(context.Background(), id, bundle, p, stdio)
}

// ExecContext is Exec whose runtime process is killed when ctx ends (a
// health check past its timeout); the error is then ctx's.
func (e *OCI) ExecContext(ctx context.Context, id, bundle string, p Process, stdio Stdio) (int, error) {
	if p.Terminal {
		p.ConsoleSize = consoleSize(stdio.Stdin) // as Run's
	}
	cmd, file, err := e.rt.Exec(id, bundle, p)
	if err != nil {
		return 0, err
	}
	defer os.Remove(file)
	if p.Detach {
		// The process keeps the runtime's stdio: a file, not a pipe
		// that Run would wait on until the process ends. It holds the
		// runtime's error, if any, and what the process writes is lost
		// with it, as docker loses it.
		out, err := os.CreateTemp("", "strata-exec-")
		if err != nil {
			return 0, err
		}
		os.Remove(out.Name())
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			out.Seek(0, io.SeekStart)
			msg, _ := io.ReadAll(io.LimitReader(out, 4096))
			return 0, fmt.Errorf("exec: %v: %s", err, strings.TrimSpace(string(msg)))
		}
		return 0, nil
	}
	relay, err := attach(cmd, stdio, p.Terminal)
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		relay.abort()
		return exitStatus(err)
	}
	relay.start(stdio)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-done:
		}
	}()
	werr := cmd.Wait()
	relay.wait()
	code, err := exitStatus(werr)
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	return code, err
}

// attach gives cmd, a runtime's run or exec, the caller's stdio, or with a
// terminal asked for and none to hand, a pseudo-terminal's (ptyRelay;
// nil when not needed).
func attach(cmd *exec.Cmd, s Stdio, terminal bool) (*ptyRelay, error) {
	if !terminal || !needsPty(s.Stdin) {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
		return nil, nil
	}
	relay, err := newPtyRelay()
	if err != nil {
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = relay.slave, relay.slave, s.Stderr
	return relay, nil
}

// exitStatus turns the runtime's end into the container's exit status:
// the runtime exits with the process's status, 128+n when it was killed
// by signal n; a runtime itself killed by a signal counts the same way.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	if code := ee.ExitCode(); code >= 0 {
		return code, nil
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return 0, fmt.Errorf("runtime: %w", err)
}

// mountRootfs mounts the snapshot at rootfs.
func mountRootfs(s Spec, rootfs string) error {
	if s.Volatile {
		if err := snapshot.All(snapshot.Volatile(s.Rootfs), rootfs); err == nil {
			return nil
		}
	}
	return snapshot.All(s.Rootfs, rootfs)
}
