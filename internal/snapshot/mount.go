package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mount is a filesystem to mount, as mount(8) takes it.
type Mount struct {
	Type    string   `json:"type"` // "overlay" or "bind"
	Source  string   `json:"source"`
	Options []string `json:"options,omitempty"`
	// Dir, when set, is the directory that relative paths in Options
	// start from: overlay lower dirs are given as short links relative to
	// it, so that deep images fit in the one page the kernel takes for a
	// mount's options.
	Dir string `json:"dir,omitempty"`
}

// flagOptions are the mount options that are flags, not data.
var flagOptions = map[string]uintptr{
	"ro": unix.MS_RDONLY, "rw": 0, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
}

// Mount mounts m at target.
func (m Mount) Mount(target string) error {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := flagOptions[o]; ok {
			flags |= f
		} else {
			data = append(data, o)
		}
	}
	typ := m.Type
	if typ == "bind" {
		typ = ""
		flags |= unix.MS_BIND
	}
	mount := func() error {
		err := unix.Mount(m.Source, target, typ, flags&^unix.MS_RDONLY|bindRO(flags), strings.Join(data, ","))
		if err != nil {
			return err
		}
		// A bind mount ignores MS_RDONLY until remounted.
		if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				unix.Unmount(target, unix.MNT_DETACH)
				return err
			}
		}
		return nil
	}
	var err error
	if m.Dir != "" {
		err = inDir(m.Dir, mount)
	} else {
		err = mount()
	}
	if err != nil {
		return fmt.Errorf("mount %s at %s: %w", m.Type, target, err)
	}
	return nil
}

func bindRO(flags uintptr) uintptr {
	if flags&unix.MS_BIND != 0 {
		return 0 // see the remount
	}
	return flags & unix.MS_RDONLY
}

// All mounts mounts, one on the other, at target; on failure nothing is
// left mounted.
func All(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := m.Mount(target); err != nil {
			for j := 0; j < i; j++ {
				Unmount(target)
			}
			return err
		}
	}
	return nil
}

// inDir runs fn on a thread of its own whose working directory is dir.
// The thread unshares its filesystem attributes, so chdir does not move
// the rest of the process, and is never given back to the Go scheduler
// (no UnlockOSThread): it ends with the goroutine.
func inDir(dir string, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			ch <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			ch <- err
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// Unmount unmounts target, retrying a while if it is busy (a process of
// the container exiting), then detaching it. Not mounted is no error.
func Unmount(target string) error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Unmount(target, 0)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err2 := unix.Unmount(target, unix.MNT_DETACH); err2 == nil {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", target, err)
}

// Mounted tells whether a filesystem is mounted at target, from
// /proc/self/mountinfo.
func Mounted(target string) bool {
	points, err := MountPoints()
	if err != nil {
		return false
	}
	target = filepath.Clean(target)
	for _, p := range points {
		if p == target {
			return true
		}
	}
	return false
}

// MountPoints lists the mount points of /proc/self/mountinfo.
func MountPoints() ([]string, error) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, unescapeMountPath(f[4]))
		}
	}
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// WithMounted runs fn with the mounts' filesystem at a directory: a bind
// mount's source as it is (nothing to mount), else a temporary mount
// point under tmpParent, unmounted and removed after.
func WithMounted(mounts []Mount, tmpParent string, fn func(root string) error) error {
	if len(mounts) == 1 && mounts[0].Type == "bind" {
		return fn(mounts[0].Source)
	}
	dir, err := os.MkdirTemp(tmpParent, "mnt-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := All(mounts, dir); err != nil {
		return err
	}
	ferr := fn(dir)
	if err := Unmount(dir); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

// Volatile returns mounts with overlay's volatile option: the kernel
// skips syncing the upper directory on unmount and on sync calls made
// inside. For a snapshot that is either committed (Commit syncs the
// filesystem before the snapshot is named) or thrown away, the sync at
// unmount is time spent twice; without it the caller can flush while it
// does other work (see SyncFS). Kernels before 5.10 refuse the option:
// mount the original mounts then.
func Volatile(mounts []Mount) []Mount {
	out := make([]Mount, len(mounts))
	for i, m := range mounts {
		if m.Type == "overlay" {
			m.Options = append(append([]string{}, m.Options...), "volatile")
		}
		out[i] = m
	}
	return out
}

// SyncFS flushes the filesystem that holds dir to disk.
func SyncFS(dir string) error { return syncFS(dir) }

// UnmountUnder unmounts every filesystem mounted at or below dir, deepest
// first, detaching what is busy: the mounts a killed process left.
func UnmountUnder(dir string) error {
	points, err := MountPoints()
	if err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	var targets []string
	for _, p := range points {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			targets = append(targets, p)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
	var first error
	for _, t := range targets {
		if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) && first == nil {
			first = fmt.Errorf("unmount %s: %w", t, err)
		}
	}
	return first
}
