package sandbox

import (
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostDevDir is where the host's device nodes are.
const hostDevDir = "/dev"

// skippedDevDirs are the parts of /dev a container has of its own (the
// runtime mounts them) or that belong to the host's terminals.
var skippedDevDirs = map[string]bool{"pts": true, "shm": true, "mqueue": true, "fd": true}

// addHostDevices gives a privileged container the host's devices, as
// docker does: every character and block device node under /dev, and a
// device cgroup that allows all.
func addHostDevices(s *specs.Spec) error {
	devs, err := hostDevices(hostDevDir)
	if err != nil {
		return err
	}
	s.Linux.Devices = append(s.Linux.Devices, devs...)
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	return nil
}

// hostDevices lists the device nodes under dir, as the container sees
// them (paths under /dev).
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a node gone or unreadable is not given
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if skippedDevDirs[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "console" || d.Type()&fs.ModeDevice == 0 {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		typ := "c"
		if d.Type()&fs.ModeCharDevice == 0 {
			typ = "b"
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path: filepath.Join("/dev", rel), Type: typ,
			Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
			FileMode: &mode, UID: &uid, GID: &gid,
		})
		return nil
	})
	return out, err
}
