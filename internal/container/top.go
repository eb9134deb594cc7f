//lint:file-ignore ST1005 docker's words, which scripts match

package container

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Processes is what top shows: ps's column titles and the rows of the
// container's processes.
type Processes struct {
	Titles    []string
	Processes [][]string
}

// Top runs ps on the host with psArgs (docker's default -ef) for the
// container's processes, as docker's daemon does: the pids of the
// container's cgroup given with -q, or, for the options -q cannot go with,
// all processes filtered by the PID column.
func (m *Manager) Top(r *Record, psArgs string) (*Processes, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	if err := checkPSArgs(psArgs); err != nil {
		return nil, err
	}
	pids, err := m.pids(r)
	if err != nil {
		return nil, err
	}
	args := strings.Split(psArgs, " ")
	qs := make([]string, len(pids))
	for i, p := range pids {
		qs[i] = strconv.Itoa(p)
	}
	out, err := exec.Command("ps", append(args, "-q", strings.Join(qs, ","))...).Output()
	if err != nil {
		if out, err = exec.Command("ps", args...).Output(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if line, _, _ := strings.Cut(string(ee.Stderr), "\n"); line != "" {
					err = errors.New(line)
				}
			}
			return nil, fmt.Errorf("ps: %w", err)
		}
	}
	procs, err := ParsePS(out, pids)
	if err != nil {
		return nil, err
	}
	m.event(r, "top")
	return procs, nil
}

// pids are the host pids of a running container's processes.
func (m *Manager) pids(r *Record) ([]int, error) {
	pid := m.Pid(r)
	if pid == 0 {
		return nil, fmt.Errorf("Container %s is not running", r.ID)
	}
	cg, err := cgroupsOf(pid, cgroupRoot)
	if err != nil {
		return nil, err
	}
	pids, err := cg.pids()
	if err != nil || len(pids) == 0 {
		return []int{pid}, nil // no cgroup of its own (cgroups disabled): its first process
	}
	return pids, nil
}

// renamedPID is a ps option that would give another column the title PID.
var renamedPID = regexp.MustCompile(`\s+([^\s]*)=\s*(PID[^\s]*)`)

func checkPSArgs(psArgs string) error {
	for _, m := range renamedPID.FindAllStringSubmatch(psArgs, -1) {
		if m[1] != "pid" {
			return fmt.Errorf("specified \"%s=%s\" is misleading", m[1], m[2])
		}
	}
	return nil
}

// ParsePS keeps the lines of ps's output whose PID is one of pids (and
// the thread lines, PID "-", that follow one), with the overhanging
// fields of a line joined into its last column (CMD has spaces).
func ParsePS(out []byte, pids []int) (*Processes, error) {
	lines := strings.Split(string(out), "\n")
	p := &Processes{Titles: strings.Fields(lines[0])}
	pidIndex := -1
	for i, t := range p.Titles {
		if t == "PID" {
			pidIndex = i
		}
	}
	if pidIndex == -1 {
		return nil, errors.New("Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, pid := range pids {
		want[pid] = true
	}
	add := func(fields []string) {
		n := len(p.Titles)
		if len(fields) > n {
			fields = append(fields[:n-1:n-1], strings.Join(fields[n-1:], " "))
		}
		p.Processes = append(p.Processes, fields)
	}
	inContainer := false // the last line with a pid was the container's
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= pidIndex {
			continue
		}
		if fields[pidIndex] == "-" {
			if inContainer {
				add(fields)
			}
			continue
		}
		pid, err := strconv.Atoi(fields[pidIndex])
		if err != nil {
			return nil, fmt.Errorf("Unexpected pid '%s': %s", fields[pidIndex], err)
		}
		inContainer = want[pid]
		if inContainer {
			add(fields)
		}
	}
	return p, nil
}
