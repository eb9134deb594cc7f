package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroups are the directories of a process's cgroups: one per cgroup v1
// controller, and its cgroup v2 directory. On a hybrid host (v1
// controllers, v2 at unified) a controller found in v1 is read there, as
// the runtimes put it there.
type cgroups struct {
	v1 map[string]string // controller -> directory
	v2 string            // "" when the host has no v2 hierarchy
}

// cgroupsOf reads /proc/PID/cgroup under the hierarchies mounted at root.
func cgroupsOf(pid int, root string) (cgroups, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return cgroups{}, err
	}
	return parseCgroups(raw, root), nil
}

// parseCgroups reads the lines of /proc/PID/cgroup: "ID:CONTROLLERS:PATH",
// v2's with ID 0 and no controllers.
func parseCgroups(raw []byte, root string) cgroups {
	cg := cgroups{v1: map[string]string{}}
	unified := root // pure v2
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		unified = filepath.Join(root, "unified") // hybrid, or v1 only
		if _, err := os.Stat(filepath.Join(unified, "cgroup.controllers")); err != nil {
			unified = ""
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		// Rooted, so that no ".." leaves the hierarchy.
		rel := filepath.Clean("/" + parts[2])
		if parts[0] == "0" && parts[1] == "" {
			if unified != "" {
				cg.v2 = filepath.Join(unified, rel)
			}
			continue
		}
		if parts[1] == "" || parts[1] == "." || parts[1] == ".." || strings.Contains(parts[1], "/") {
			continue
		}
		// A hierarchy of several controllers is mounted under their
		// joined names ("cpu,cpuacct").
		for _, c := range strings.Split(parts[1], ",") {
			cg.v1[c] = filepath.Join(root, parts[1], rel)
		}
	}
	return cg
}

// file is the path of a controller's file: v1's when the controller is
// in v1, else v2's (with v2's name for it).
func (cg cgroups) file(controller, v1Name, v2Name string) (path string, v2 bool) {
	if d, ok := cg.v1[controller]; ok {
		return filepath.Join(d, v1Name), false
	}
	if cg.v2 == "" {
		return "", true
	}
	return filepath.Join(cg.v2, v2Name), true
}

// pids are the processes in the container's cgroup (pids controller, else
// memory's, else v2's).
func (cg cgroups) pids() ([]int, error) {
	path, _ := cg.file("pids", "cgroup.procs", "cgroup.procs")
	if _, ok := cg.v1["pids"]; !ok {
		if d, ok := cg.v1["memory"]; ok {
			path = filepath.Join(d, "cgroup.procs")
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// readUint reads a file holding one number ("max" is 0: no limit).
func readUint(path string) uint64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	return n
}

// readKeyed reads a file of "KEY VALUE" lines (memory.stat, cpu.stat).
func readKeyed(path string) map[string]uint64 {
	out := map[string]uint64{}
	raw, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out
}
