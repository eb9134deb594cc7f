package container

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
)

// Stats is one sample of a container's resource use, docker's figures:
// cgroup counters, and the network counters of its namespace.
type Stats struct {
	CPU        uint64 // the container's CPU time, ns
	System     uint64 // the host's CPU time, ns (from /proc/stat)
	OnlineCPUs int
	MemUsage   uint64 // without the inactive file cache, as docker counts it
	MemLimit   uint64 // its limit, at most the host's memory
	NetRx      uint64
	NetTx      uint64
	BlockRead  uint64
	BlockWrite uint64
	Pids       uint64
}

// CPUPercent is docker's CPU %: the container's share of the host's CPU
// time between two samples, times the CPUs (100% is one CPU).
func CPUPercent(prev, cur Stats) float64 {
	cpu, sys := float64(cur.CPU)-float64(prev.CPU), float64(cur.System)-float64(prev.System)
	if cpu <= 0 || sys <= 0 {
		return 0
	}
	return cpu / sys * float64(cur.OnlineCPUs) * 100
}

// MemPercent is docker's MEM %.
func (s Stats) MemPercent() float64 {
	if s.MemLimit == 0 {
		return 0
	}
	return float64(s.MemUsage) / float64(s.MemLimit) * 100
}

// Stats samples a container (zero for one that is not running, as
// docker shows it).
func (m *Manager) Stats(r *Record) (Stats, error) {
	pid := m.Pid(r)
	if pid == 0 {
		return Stats{}, nil
	}
	cg, err := cgroupsOf(pid, cgroupRoot)
	if err != nil {
		return Stats{}, err
	}
	s := cg.stats()
	s.System = hostCPU()
	s.OnlineCPUs = goruntime.NumCPU()
	if total := hostMemory(); total > 0 && (s.MemLimit == 0 || s.MemLimit > total) {
		s.MemLimit = total
	}
	if r.Config.Network == NetworkBridge {
		// The namespace's counters: its own interfaces only (docker
		// shows none for the host's network).
		s.NetRx, s.NetTx = netDev(fmt.Sprintf("/proc/%d/net/dev", pid))
	}
	return s, nil
}

// stats reads the cgroup counters.
func (cg cgroups) stats() Stats {
	var s Stats
	if p, v2 := cg.file("cpuacct", "cpuacct.usage", "cpu.stat"); v2 {
		s.CPU = readKeyed(p)["usage_usec"] * 1000
	} else {
		s.CPU = readUint(p)
	}
	usage, v2 := cg.file("memory", "memory.usage_in_bytes", "memory.current")
	stat, _ := cg.file("memory", "memory.stat", "memory.stat")
	limit, _ := cg.file("memory", "memory.limit_in_bytes", "memory.max")
	inactive := "total_inactive_file"
	if v2 {
		inactive = "inactive_file"
	}
	s.MemUsage, s.MemLimit = readUint(usage), readUint(limit)
	if in := readKeyed(stat)[inactive]; in < s.MemUsage {
		s.MemUsage -= in
	}
	p, _ := cg.file("pids", "pids.current", "pids.current")
	s.Pids = readUint(p)
	if p, v2 := cg.file("blkio", "blkio.throttle.io_service_bytes", "io.stat"); v2 {
		s.BlockRead, s.BlockWrite = ioStat(p)
	} else {
		s.BlockRead, s.BlockWrite = ioServiceBytes(p)
	}
	return s
}

// ioServiceBytes sums the Read and Write lines of cgroup v1's
// blkio.throttle.io_service_bytes ("8:0 Read 4096").
func ioServiceBytes(path string) (read, write uint64) {
	raw, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch strings.ToLower(f[1]) {
		case "read":
			read += n
		case "write":
			write += n
		}
	}
	return read, write
}

// ioStat sums rbytes and wbytes of cgroup v2's io.stat
// ("8:0 rbytes=4096 wbytes=0 ...").
func ioStat(path string) (read, write uint64) {
	raw, _ := os.ReadFile(path)
	for _, f := range strings.Fields(string(raw)) {
		k, v, _ := strings.Cut(f, "=")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "rbytes":
			read += n
		case "wbytes":
			write += n
		}
	}
	return read, write
}

// netDev sums the received and sent bytes of the interfaces in a
// /proc/net/dev, loopback aside.
func netDev(path string) (rx, tx uint64) {
	raw, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(raw), "\n") {
		name, counters, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}

// clockTicks is USER_HZ, the unit of /proc/stat (100 on Linux).
const clockTicks = 100

// hostCPU is the host's CPU time in ns from /proc/stat's cpu line (its
// first seven fields, as docker sums them).
func hostCPU() uint64 {
	raw, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, v := range f[1:8] {
		n, _ := strconv.ParseUint(v, 10, 64)
		ticks += n
	}
	return ticks * 1e9 / clockTicks
}

// hostMemory is MemTotal of /proc/meminfo in bytes.
func hostMemory() uint64 {
	raw, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n * 1024
		}
	}
	return 0
}
