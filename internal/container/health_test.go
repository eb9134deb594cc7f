package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/image"
)

// The status after each probe, as docker's handleProbeResult gives it
// (the sequence of TestHealthDocker's recorded run: two failures with
// retries 2, then successes).
func TestHealthRecord(t *testing.T) {
	start := time.Date(2026, 12, 6, 4, 32, 5, 0, time.UTC)
	cases := []struct {
		name  string
		hc    image.HealthConfig
		codes []int
		want  []string
	}{
		{"docker's run", image.HealthConfig{Retries: 2}, []int{1, 1, 0, 0}, []string{Starting, Unhealthy, Healthy, Healthy}},
		{"default retries", image.HealthConfig{}, []int{1, 1, 1}, []string{Starting, Starting, Unhealthy}},
		{"start period spares failures", image.HealthConfig{Retries: 1, StartPeriod: 10 * time.Second}, []int{1, 1, 0, 1}, []string{Starting, Starting, Healthy, Unhealthy}},
		{"a success ends the streak", image.HealthConfig{Retries: 2}, []int{1, 0, 1, 0}, []string{Starting, Healthy, Healthy, Healthy}},
		{"timeout (-1) is a failure", image.HealthConfig{Retries: 1}, []int{-1}, []string{Unhealthy}},
	}
	for _, c := range cases {
		h := &Health{Status: Starting}
		var got []string
		for i, code := range c.codes {
			at := start.Add(time.Duration(i+1) * time.Second)
			h.record(HealthResult{Start: at, End: at, ExitCode: code}, start, &c.hc)
			got = append(got, h.Status)
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	h := &Health{Status: Starting}
	for i := 0; i < 8; i++ {
		h.record(HealthResult{ExitCode: i}, start, &image.HealthConfig{})
	}
	if len(h.Log) != healthLogEntries || h.Log[0].ExitCode != 3 {
		t.Errorf("log keeps %d entries from %d, want docker's last 5", len(h.Log), h.Log[0].ExitCode)
	}
}

func TestHealthConfig(t *testing.T) {
	img := &image.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Minute, Retries: 5}
	cases := []struct {
		name    string
		img     *image.HealthConfig
		o       HealthOptions
		want    []string // probe args
		retries int
		err     string
	}{
		{"none", nil, HealthOptions{}, nil, 0, ""},
		{"image's", img, HealthOptions{}, []string{"true"}, 5, ""},
		{"flags over image", img, HealthOptions{Cmd: "test -f /ok", Retries: 2}, []string{"/bin/sh", "-c", "test -f /ok"}, 2, ""},
		{"no-healthcheck", img, HealthOptions{None: true}, nil, 0, ""},
		{"no-healthcheck and a flag", img, HealthOptions{None: true, Cmd: "x"}, nil, 0, "--no-healthcheck conflicts with --health-* options"},
		{"negative interval", nil, HealthOptions{Interval: -time.Second}, nil, 0, "--health-interval cannot be negative"},
		{"negative retries", nil, HealthOptions{Retries: -1}, nil, 0, "--health-retries cannot be negative"},
		{"image NONE", &image.HealthConfig{Test: []string{"NONE"}}, HealthOptions{}, nil, 0, ""},
	}
	for _, c := range cases {
		hc, err := healthConfig(c.img, c.o)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: %v, want %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := healthArgs(hc); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: args %q, want %q", c.name, got, c.want)
		}
		if c.want != nil && hc.Retries != c.retries {
			t.Errorf("%s: retries %d, want %d", c.name, hc.Retries, c.retries)
		}
	}
}

func TestCgroupsAndCounters(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A hybrid host: v1 controllers, v2 at unified with nothing of ours.
	write("unified/cgroup.controllers", "")
	ctr := "strata/abc"
	write("memory/"+ctr+"/memory.usage_in_bytes", "3000000\n")
	write("memory/"+ctr+"/memory.limit_in_bytes", "9223372036854771712\n")
	write("memory/"+ctr+"/memory.stat", "cache 100\ntotal_inactive_file 837837\n")
	write("cpu,cpuacct/"+ctr+"/cpuacct.usage", "123456789\n")
	write("pids/"+ctr+"/pids.current", "2\n")
	write("pids/"+ctr+"/cgroup.procs", "14655\n14738\n")
	write("blkio/"+ctr+"/blkio.throttle.io_service_bytes", "8:0 Read 4096\n8:0 Write 512\n8:16 Read 4096\n8:0 Sync 9\nTotal 8704\n")
	cg := parseCgroups([]byte("9:name=systemd:/"+ctr+"\n8:pids:/"+ctr+"\n7:blkio:/"+ctr+"\n4:memory:/"+ctr+"\n2:cpu,cpuacct:/"+ctr+"\n0::/\n"), root)
	s := cg.stats()
	want := Stats{CPU: 123456789, MemUsage: 3000000 - 837837, MemLimit: 9223372036854771712, Pids: 2, BlockRead: 8192, BlockWrite: 512}
	if s != want {
		t.Errorf("v1 stats %+v, want %+v", s, want)
	}
	if pids, err := cg.pids(); err != nil || len(pids) != 2 || pids[1] != 14738 {
		t.Errorf("pids %v %v", pids, err)
	}

	// Pure v2.
	root = t.TempDir()
	write("cgroup.controllers", "cpu memory pids io")
	write(ctr+"/memory.current", "5000\n")
	write(ctr+"/memory.max", "max\n")
	write(ctr+"/memory.stat", "anon 1\ninactive_file 1000\n")
	write(ctr+"/cpu.stat", "usage_usec 250\nuser_usec 200\n")
	write(ctr+"/pids.current", "3\n")
	write(ctr+"/io.stat", "8:0 rbytes=100 wbytes=20 rios=1 wios=1\n8:16 rbytes=1 wbytes=2\n")
	s = parseCgroups([]byte("0::/"+ctr+"\n"), root).stats()
	want = Stats{CPU: 250000, MemUsage: 4000, Pids: 3, BlockRead: 101, BlockWrite: 22}
	if s != want {
		t.Errorf("v2 stats %+v, want %+v", s, want)
	}
	write("net/dev", "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:   99       1    0    0    0     0          0         0       99       1    0    0    0     0       0          0\n  eth0:  736       8    0    0    0     0          0         0      472       6    0    0    0     0       0          0\n")
	if rx, tx := netDev(filepath.Join(root, "net/dev")); rx != 736 || tx != 472 {
		t.Errorf("net %d / %d, want 736 / 472 (loopback aside)", rx, tx)
	}
	if p := CPUPercent(Stats{CPU: 1000, System: 100000}, Stats{CPU: 1059, System: 110000, OnlineCPUs: 1}); p < 0.589 || p > 0.591 {
		t.Errorf("cpu %% %v, want 0.59", p)
	}
}

func TestParsePSErrors(t *testing.T) {
	if _, err := ParsePS([]byte("UID CMD\nroot sh\n"), []int{1}); err == nil || err.Error() != "Couldn't find PID field in ps output" {
		t.Errorf("no PID column: %v", err)
	}
	if _, err := ParsePS([]byte("PID CMD\nx sh\n"), []int{1}); err == nil || !strings.HasPrefix(err.Error(), "Unexpected pid 'x'") {
		t.Errorf("bad pid: %v", err)
	}
	// Thread lines (PID "-") follow the process they belong to.
	p, err := ParsePS([]byte("PID TID CMD\n1 - sh\n- 1 -\n2 - other\n- 2 -\n"), []int{1})
	if err != nil || len(p.Processes) != 2 {
		t.Errorf("threads: %v %v", p, err)
	}
	for _, c := range []struct{ args, err string }{
		{"-o pid=PID", ""}, {"-o comm=PID", `specified "comm=PID" is misleading`}, {"aux", ""},
	} {
		err := checkPSArgs(c.args)
		if (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("%s: %v, want %q", c.args, err, c.err)
		}
	}
}

// ps's output is read as docker reads it, whatever it holds.
func FuzzParsePS(f *testing.F) {
	f.Add([]byte("UID PID PPID C STIME TTY TIME CMD\nroot 14655 14635 2 04:47 ? 00:00:00 sh -c echo out\n"), 14655)
	f.Add([]byte("PID TID CMD\n1 - sh\n- 1 -\n"), 1)
	f.Add([]byte("PID\n\n x\n"), 2)
	f.Fuzz(func(t *testing.T, out []byte, pid int) {
		p, err := ParsePS(out, []int{pid})
		if err != nil {
			return
		}
		for _, row := range p.Processes {
			if len(row) > len(p.Titles) {
				t.Fatalf("row %q has more fields than titles %q", row, p.Titles)
			}
		}
	})
}

// /proc/PID/cgroup lines of any shape give directories under the root.
func FuzzParseCgroups(f *testing.F) {
	f.Add([]byte("4:memory:/strata/abc\n2:cpu,cpuacct:/x\n0::/\n"))
	f.Add([]byte("::\n1:\n0::../../etc\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cg := parseCgroups(raw, "/sys/fs/cgroup")
		for c, d := range cg.v1 {
			if !strings.HasPrefix(d, "/sys/fs/cgroup/") {
				t.Fatalf("controller %q at %q, outside the hierarchy", c, d)
			}
		}
	})
}
