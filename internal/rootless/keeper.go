package rootless

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The keeper's files in the runtime directory: its pid, and the lock
// under which one is checked and made (two first commands at once make
// one).
const (
	keeperPIDFile  = "ns.pid"
	keeperLockFile = "ns.lock"
)

// KeeperPID is the pid of the user's namespace keeper, 0 when none runs.
func (s State) KeeperPID() int {
	raw, err := os.ReadFile(filepath.Join(s.RuntimeDir, keeperPIDFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || !isKeeper(pid) {
		return 0
	}
	return pid
}

// isKeeper tells whether pid is a keeper (its pid may be another
// process's now, after a reboot of the runtime directory's tmpfs or a
// kill).
func isKeeper(pid int) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return err == nil && bytes.Contains(env, []byte("\x00"+stageEnv+"=pause\x00"))
}

// keeper returns the pid of the process that holds the user's user and
// mount namespaces, starting one if none runs: strata itself, cloned into
// new namespaces, its ids mapped with newuidmap and newgidmap (setuid
// helpers: an unprivileged process may map only its own id), then
// waiting for a signal in a session of its own.
func keeper(s State, self string) (int, error) {
	lock, err := os.OpenFile(filepath.Join(s.RuntimeDir, keeperLockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return 0, err
	}
	if pid := s.KeeperPID(); pid != 0 {
		return pid, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command(self, "namespace-keeper")
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{r} // fd 3
	cmd.Env = withEnv(withEnv(os.Environ(), stageEnv, "wait"), stateEnv, s.encode())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS, Setsid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL) {
			return 0, fmt.Errorf("cannot make a user namespace (%v): unprivileged user namespaces are disabled here (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone or an AppArmor policy)", err)
		}
		return 0, fmt.Errorf("start strata in a user namespace: %w", err)
	}
	r.Close()
	pid := cmd.Process.Pid
	fail := func(err error) (int, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	if err := writeMaps(pid, s); err != nil {
		return fail(err)
	}
	if _, err := w.Write([]byte{1}); err != nil {
		return fail(err)
	}
	w.Close()
	// It is one once it has exec'd itself as root there.
	for deadline := time.Now().Add(10 * time.Second); !isKeeper(pid); time.Sleep(time.Millisecond) {
		if syscall.Kill(pid, 0) != nil || time.Now().After(deadline) {
			return fail(fmt.Errorf("the namespace keeper did not start: %s", strings.TrimSpace(stderr.String())))
		}
	}
	if err := writeFileAtomic(filepath.Join(s.RuntimeDir, keeperPIDFile), []byte(strconv.Itoa(pid)+"\n")); err != nil {
		return fail(err)
	}
	go cmd.Wait() // not this process's child for long: it outlives it
	return pid, nil
}

// keep is the keeper's life once root in its namespaces: mounts made
// there stay there (the host's new mounts still come in), and it waits
// until it is told to end.
func keep(stderr io.Writer) int {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		fmt.Fprintln(stderr, "Error: keep the mount namespace's mounts in it: "+err.Error())
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	<-sigs
	return 0
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
