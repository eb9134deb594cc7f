package rootless

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment of the re-executed strata. stageEnv tells the process what
// it is: "wait" (the keeper just cloned into the new namespaces, its ids
// not yet mapped: wait for the parent, then exec again to become root
// there), "pause" (the keeper, root there: hold the namespaces) or "ready"
// (a command entered into them: run it). stateEnv carries the
// user's facts from outside (its ids, ranges and runtime directory), which
// cannot be read from inside, where the user is 0.
const (
	stageEnv = "_STRATA_USERNS_STAGE"
	stateEnv = "_STRATA_ROOTLESS"
)

// State is what a rootless strata runs as.
type State struct {
	Rootless       bool
	User           string // the user's name on the host
	UID, GID       int    // the user's ids on the host
	SubUID, SubGID Range  // mapped to 1..Count in the namespace
	// RuntimeDir holds what must not outlive a boot (the runtime's
	// state): $XDG_RUNTIME_DIR/strata, else /tmp/strata-UID.
	RuntimeDir string
}

// Current is the state of this process: a root strata's (Rootless
// false), or a user's, inside the namespace Enter made or outside it
// (then the ranges are read from the files, and may be missing).
func Current() State {
	if s, ok := inherited(); ok {
		return s
	}
	if os.Geteuid() == 0 {
		return State{}
	}
	s, _ := hostState()
	return s
}

// inherited is the state Enter passed to the process it started.
func inherited() (State, bool) {
	v := os.Getenv(stateEnv)
	if v == "" || os.Getenv(stageEnv) != "ready" {
		return State{}, false
	}
	f := strings.SplitN(v, ":", 8)
	if len(f) != 8 {
		return State{}, false
	}
	n := make([]uint64, 6)
	for i := range n {
		var err error
		if n[i], err = strconv.ParseUint(f[i], 10, 32); err != nil {
			return State{}, false
		}
	}
	return State{Rootless: true, UID: int(n[0]), GID: int(n[1]),
		SubUID: Range{uint32(n[2]), uint32(n[3])}, SubGID: Range{uint32(n[4]), uint32(n[5])},
		User: f[6], RuntimeDir: f[7]}, true
}

// StoreRunDir is the directory of the store at root under RuntimeDir:
// one per store, as each store's containers are its own (a store's
// orphan collection removes runtime state its records do not name).
func (s State) StoreRunDir(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(s.RuntimeDir, hex.EncodeToString(sum[:6]))
}

func (s State) encode() string {
	return fmt.Sprintf("%d:%d:%d:%d:%d:%d:%s:%s", s.UID, s.GID, s.SubUID.Start, s.SubUID.Count,
		s.SubGID.Start, s.SubGID.Count, s.User, s.RuntimeDir)
}

// hostState reads the user's facts outside the namespace. The error
// says what is missing for a rootless strata (no range).
func hostState() (State, error) {
	s := State{Rootless: true, UID: os.Getuid(), GID: os.Getgid()}
	s.User = strconv.Itoa(s.UID)
	if u, err := user.LookupId(s.User); err == nil {
		s.User = u.Username
	}
	s.RuntimeDir = runtimeDir(s.UID)
	var okU, okG bool
	var err error
	if s.SubUID, okU, err = subIDs(SubUIDFile, s.User, uint32(s.UID)); err != nil {
		return s, err
	}
	if s.SubGID, okG, err = subIDs(SubGIDFile, s.User, uint32(s.GID)); err != nil {
		return s, err
	}
	// A group range is looked up by the user's name, as newgidmap does;
	// by the group's id only as a fallback above.
	if !okG {
		s.SubGID, okG, _ = subIDs(SubGIDFile, s.User, uint32(s.UID))
	}
	missing := SubUIDFile
	switch {
	case okU && okG:
		return s, nil
	case okU:
		missing = SubGIDFile
	case !okG:
		missing = SubUIDFile + " and " + SubGIDFile
	}
	return s, fmt.Errorf("strata without root needs subordinate ids for %s in %s: run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s` as root", s.User, missing, s.User)
}

// runtimeDir is where a user's strata keeps what must not persist.
func runtimeDir(uid int) string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		if fi, err := os.Stat(x); err == nil && fi.IsDir() && owner(fi) == uid {
			return filepath.Join(x, "strata")
		}
	}
	return filepath.Join(os.TempDir(), "strata-"+strconv.Itoa(uid))
}

func owner(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// makeRuntimeDir creates dir 0700, refusing one that another user made
// (under /tmp anyone could have made it first).
func makeRuntimeDir(dir string, uid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() || owner(fi) != uid || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("runtime directory %s is not a directory of yours with mode 0700", dir)
	}
	return nil
}

// Enter is called first in main. For a user other than root whose
// command needs the store (not version or help), it runs strata again
// as root in the user's user and mount namespaces and returns its exit
// status with done; inside them, and for root, it returns done false and
// the command runs in this process. Its errors are printed here, one
// line, as the command line prints its own.
func Enter(args []string, stderr io.Writer) (code int, done bool) {
	switch os.Getenv(stageEnv) {
	case "wait":
		return waitForMaps(stderr), true
	case "pause":
		return keep(stderr), true
	case "ready":
		return 0, false
	}
	if os.Geteuid() == 0 || !NeedsNamespace(args) {
		return 0, false
	}
	fmt.Fprintln(stderr, "Error: "+reexec().Error())
	return 1, true
}

// NeedsNamespace reports whether the command line args touch the store
// or run containers: version, help and shell completion do not, and need
// no subordinate ids. A --help counts up to the command's first argument
// (after it, as in `run IMAGE CMD --help`, it may be the container's).
func NeedsNamespace(args []string) bool {
	command := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--help" || command == "" && (a == "-h" || a == "--version" || a == "-v"):
			return false
		case a == "--root" && command == "":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		case command == "":
			switch a {
			case "version", "help", "completion", "__complete", "__completeNoDesc":
				return false
			}
			command = a
		default:
			return true // the command's first argument
		}
	}
	return command != "" // `strata` alone prints help
}

// reexec runs the command again as root in the user's namespaces: those
// of its keeper process (made by the first command, kept for the next:
// every command then sees the same mounts, so one command's `exec` or
// `cp` reaches a container another started), entered with util-linux's
// nsenter (setns into a user namespace needs a single-threaded process,
// which a Go program is not). It returns only on failure.
func reexec() error {
	s, err := hostState()
	if err != nil {
		return err
	}
	if err := makeRuntimeDir(s.RuntimeDir, s.UID); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return fmt.Errorf("strata without root needs nsenter (util-linux): %w", err)
	}
	pid, err := keeper(s, self)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = "/"
	}
	// Setting the mount namespace moves to its root: --wd keeps the
	// directory relative paths are given from. nsenter execs strata in
	// this very process (no fork without --pid): its exit status and
	// signals are the command's.
	args := append([]string{"nsenter", "--target", strconv.Itoa(pid), "--user", "--mount", "--wd=" + wd, "--", self}, os.Args[1:]...)
	err = unix.Exec(nsenter, args, withEnv(withEnv(os.Environ(), stageEnv, "ready"), stateEnv, s.encode()))
	return fmt.Errorf("enter the user namespace with %s: %w", nsenter, err)
}

// writeMaps maps the user to 0 and its ranges to 1..Count in pid's user
// namespace.
func writeMaps(pid int, s State) error {
	p := strconv.Itoa(pid)
	for _, m := range []struct {
		tool string
		id   int
		r    Range
	}{{"newuidmap", s.UID, s.SubUID}, {"newgidmap", s.GID, s.SubGID}} {
		path, err := exec.LookPath(m.tool)
		if err != nil {
			return fmt.Errorf("strata without root needs %s (Debian's uidmap package): %w", m.tool, err)
		}
		out, err := exec.Command(path, p, "0", strconv.Itoa(m.id), "1",
			"1", strconv.FormatUint(uint64(m.r.Start), 10), strconv.FormatUint(uint64(m.r.Count), 10)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %s", m.tool, m.r, strings.TrimSpace(string(out)+" "+err.Error()))
		}
	}
	return nil
}

// waitForMaps is the keeper before its ids are mapped: it has no
// capabilities in its namespace (it was exec'd as an unmapped user). Once
// the parent has written the maps, it execs itself again, now as root in
// the namespace with every capability there, to keep the namespaces.
func waitForMaps(stderr io.Writer) int {
	f := os.NewFile(3, "userns-sync")
	var b [1]byte
	n, _ := f.Read(b[:])
	f.Close()
	if n != 1 {
		return 1 // the parent failed and says why
	}
	self, err := os.Readlink("/proc/self/exe")
	if err == nil {
		err = unix.Exec(self, os.Args, withEnv(os.Environ(), stageEnv, "pause"))
	}
	fmt.Fprintln(stderr, "Error: re-run strata in its user namespace: "+err.Error())
	return 1
}

// withEnv is env with key set to value (Getenv reads a key's first
// value, so an old one must go).
func withEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}
