package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/strata-dev/strata/internal/layer"
)

// Chroot is the Executor of chroot isolation, for where namespaces and
// mounts are refused (a CI job in a container with docker's default
// seccomp profile and capabilities): the job container's own root is the
// build root, as kaniko makes it. Before a step, "/" is made the same tree
// as the step's snapshot (layer.Mirror); the process runs there directly,
// with the container's own /proc, /sys, /dev, /etc/hosts and
// /etc/resolv.conf, as docker's RUN has them, and its confinement; after
// it, the snapshot is made the same tree as "/", so that the snapshot
// driver's diff (vfs: two trees compared) writes the step's layer as for
// any other isolation. A chroot into the snapshot would need no such copy
// but could give the step no /proc: nothing can be mounted.
//
// The kept paths (the store, the context, strata's own files, every
// mount point) are never read nor changed. One step runs at a time: there
// is one root. Restore puts the root back as it was before the first
// step.
type Chroot struct {
	keep  []string
	saved string // where the root is kept until Restore

	mu      sync.Mutex
	touched bool // "/" holds some step's files
}

// NewChroot returns the chroot executor that leaves keep alone and keeps
// a copy of the root in saved (a directory under a kept path) while steps
// run.
func NewChroot(keep []string, saved string) *Chroot {
	return &Chroot{keep: keep, saved: saved}
}

// Run implements Executor.
func (c *Chroot) Run(ctx context.Context, s Spec) (int, error) {
	if len(s.Mounts) > 0 {
		return 0, errors.New("chroot isolation cannot mount: RUN --mount needs namespaces (--isolation oci)")
	}
	if s.Network == "none" {
		return 0, errors.New("chroot isolation has no network namespace: RUN --network=none needs --isolation oci")
	}
	if len(s.Rootfs) != 1 || s.Rootfs[0].Type != "bind" {
		return 0, errors.New("chroot isolation needs the vfs storage driver (--storage-driver vfs)")
	}
	tree := s.Rootfs[0].Source
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.touched {
		if err := os.MkdirAll(c.saved, 0o700); err != nil {
			return 0, err
		}
		if err := layer.Mirror(ctx, c.saved, "/", c.keep); err != nil {
			return 0, fmt.Errorf("chroot isolation: keep the root: %w", err)
		}
		c.touched = true
	}
	if err := layer.Mirror(ctx, "/", tree, c.keep); err != nil {
		return 0, fmt.Errorf("chroot isolation: the step's files into /: %w", err)
	}
	p := s.Process
	if s.Prepare != nil {
		if err := s.Prepare("/", &p); err != nil {
			return 0, err
		}
	}
	code, err := c.run(ctx, s, p)
	if err != nil {
		return 0, err
	}
	if err := layer.Mirror(ctx, tree, "/", c.keep); err != nil {
		return 0, fmt.Errorf("chroot isolation: the step's changes from /: %w", err)
	}
	return code, nil
}

// run runs p in "/" as it is, and waits for it.
func (c *Chroot) run(ctx context.Context, s Spec, p Process) (int, error) {
	if len(p.Args) == 0 {
		return 0, errors.New("no command")
	}
	prog, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		if s.Stdio.Stderr != nil {
			fmt.Fprintf(s.Stdio.Stderr, "exec: %v\n", err)
		}
		return 127, nil
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// As runc does for a working directory the image lacks.
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return 0, err
	}
	cmd := exec.Command(prog, p.Args[1:]...)
	cmd.Args[0] = p.Args[0]
	cmd.Env, cmd.Dir = p.Env, cwd
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdio.Stdin, s.Stdio.Stdout, s.Stdio.Stderr
	groups := p.Groups
	if groups == nil {
		groups = []uint32{}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: p.UID, Gid: p.GID, Groups: groups},
		Setpgid:    true, // killed whole on cancel
	}
	if err := cmd.Start(); err != nil {
		if s.Stdio.Stderr != nil {
			fmt.Fprintf(s.Stdio.Stderr, "exec: %v\n", err)
		}
		return 126, nil
	}
	if s.Started != nil {
		s.Started()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case werr := <-exited:
			return exitStatus(werr)
		case sig := <-s.Signals:
			cmd.Process.Signal(sig)
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			return 0, ctx.Err()
		}
	}
}

// Restore makes the root what it was before the first step, and drops
// the copy kept of it.
func (c *Chroot) Restore(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.touched {
		return nil
	}
	if err := layer.Mirror(ctx, "/", c.saved, c.keep); err != nil {
		return fmt.Errorf("chroot isolation: put the root back: %w", err)
	}
	c.touched = false
	return os.RemoveAll(c.saved)
}

// lookPath finds prog as the step's shell would: in the PATH of its
// environment, not strata's.
func lookPath(prog string, env []string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", prog)
}
