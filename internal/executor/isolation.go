package executor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The isolations of a build's RUN steps, by buildah's names.
const (
	// IsolationOCI runs each step in a container of its own (runc or
	// crun): namespaces and mounts.
	IsolationOCI = "oci"
	// IsolationChroot runs each step in this process's own root (Chroot):
	// for where namespaces and mounts are refused.
	IsolationChroot = "chroot"
)

// ParseIsolation checks an --isolation value ("" is: choose).
func ParseIsolation(s string) (string, error) {
	switch s {
	case "", IsolationOCI, IsolationChroot:
		return s, nil
	}
	return "", fmt.Errorf("invalid --isolation %q (want oci or chroot)", s)
}

// NamespacesRefused says why this process cannot make the mount namespace
// and mounts a container needs, or is nil when it can. It tries on a
// thread of its own, which ends with the namespace it made.
func NamespacesRefused() error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with the goroutine.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("mount: %w", err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// chrootCaps are the capabilities chroot isolation needs: to write the
// steps' files with their owners and modes over the root, and to run a
// step as its USER.
var chrootCaps = []struct {
	bit  uint
	name string
}{
	{unix.CAP_CHOWN, "CAP_CHOWN"}, {unix.CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"}, {unix.CAP_FOWNER, "CAP_FOWNER"},
	{unix.CAP_SETGID, "CAP_SETGID"}, {unix.CAP_SETUID, "CAP_SETUID"},
}

// ChrootRefused says what chroot isolation lacks here, or is nil when it
// can run: the capabilities above and a writable root filesystem.
func ChrootRefused() error {
	var missing []string
	eff, err := effectiveCaps()
	if err != nil {
		return err
	}
	for _, c := range chrootCaps {
		if eff&(1<<c.bit) == 0 {
			missing = append(missing, c.name)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return err
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		missing = append(missing, "a writable root filesystem")
	}
	if len(missing) > 0 {
		return fmt.Errorf("chroot isolation needs %s", strings.Join(missing, ", "))
	}
	return nil
}

// effectiveCaps reads this process's effective capability set.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

// ChooseIsolation returns the isolation asked for, or, when none was, oci
// where namespaces and mounts can be made and chroot where they are
// refused; why, when chroot was chosen so, says what was refused. It
// fails, naming what is missing, when neither can run.
func ChooseIsolation(asked string) (iso string, why error, err error) {
	switch asked {
	case IsolationOCI:
		return asked, nil, nil
	case IsolationChroot:
		// Where namespaces work this may be a machine's own root, which
		// the steps' files would replace while the build runs.
		if NamespacesRefused() == nil && !InContainer() {
			return "", nil, errors.New("--isolation chroot writes the build steps' files over this machine's own root: refused outside a container (no /.dockerenv, /run/.containerenv or $container here)")
		}
		return asked, nil, ChrootRefused()
	}
	nsErr := NamespacesRefused()
	if nsErr == nil {
		return IsolationOCI, nil, nil
	}
	if err := ChrootRefused(); err != nil {
		return "", nil, fmt.Errorf("RUN steps cannot run here: namespaces are refused (%v) and %v", nsErr, err)
	}
	return IsolationChroot, nsErr, nil
}

// InContainer tells whether this process runs in a container, by the
// marks docker, podman and systemd-nspawn leave.
func InContainer() bool {
	if os.Getenv("container") != "" {
		return true
	}
	for _, p := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}
