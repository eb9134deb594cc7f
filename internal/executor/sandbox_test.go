package executor

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/sandbox"
)

// TestSandbox runs processes confined as docker confines them (the
// defaults, and each flag) on the real runtimes, and checks what the
// process can and cannot do.
func TestSandbox(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "no-mkdir.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bindDir := t.TempDir()
	for _, c := range []struct {
		name  string
		flags sandbox.Flags
		// script runs in sh -c; its output must match want (a regexp)
		// and its exit status be code (busybox sh exits 2 when it
		// cannot fork).
		script string
		want   string
		code   int
	}{
		{name: "default: seccomp filter, docker's 14 capabilities",
			script: `grep -E '^(Seccomp|CapEff|CapBnd|NoNewPrivs):' /proc/self/status`,
			want:   `^CapEff:\s+00000000a80425fb\nCapBnd:\s+00000000a80425fb\nNoNewPrivs:\s+0\nSeccomp:\s+2\n$`},
		{name: "default: unshare is refused by the profile",
			script: `unshare -U true 2>&1`, want: `Operation not permitted`, code: 1},
		{name: "unconfined: unshare works",
			flags:  sandbox.Flags{SecurityOpt: []string{"seccomp=unconfined"}},
			script: `unshare -U true && grep Seccomp: /proc/self/status`, want: `^Seccomp:\s+0\n$`},
		{name: "default: mount is refused",
			script: `mount -t tmpfs t /tmp 2>&1`, want: `permission denied`, code: 1},
		{name: "cap-add SYS_ADMIN: the profile lets mount through, as docker's",
			flags:  sandbox.Flags{CapAdd: []string{"sys_admin"}},
			script: `mount -t tmpfs t /tmp && echo mounted`, want: `^mounted\n$`},
		{name: "default: /proc/timer_list masked, /proc/sys read-only",
			script: `head -c 10 /proc/timer_list | wc -c; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo read-only`, want: `^0\nread-only\n$`},
		{name: "default: chown works",
			script: `touch /tmp/f && chown 1:1 /tmp/f && stat -c %u /tmp/f`, want: `^1\n$`},
		{name: "cap-drop CHOWN: chown refused",
			flags:  sandbox.Flags{CapDrop: []string{"CHOWN"}},
			script: `touch /tmp/f && chown 1:1 /tmp/f 2>&1`, want: `Operation not permitted`, code: 1},
		{name: "cap-drop ALL cap-add CHOWN",
			flags:  sandbox.Flags{CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_CHOWN"}},
			script: `grep CapEff: /proc/self/status`, want: `^CapEff:\s+0000000000000001\n$`},
		{name: "seccomp profile file",
			flags:  sandbox.Flags{SecurityOpt: []string{"seccomp=" + profile}},
			script: `mkdir /tmp/d 2>&1`, want: `Operation not permitted`, code: 1},
		{name: "no-new-privileges",
			flags:  sandbox.Flags{SecurityOpt: []string{"no-new-privileges"}},
			script: `grep NoNewPrivs: /proc/self/status`, want: `^NoNewPrivs:\s+1\n$`},
		{name: "privileged: every capability this host has, no seccomp, nothing masked, mount works",
			flags:  sandbox.Flags{Privileged: true},
			script: `grep -E '^(CapEff|Seccomp):' /proc/self/status; mount -t tmpfs t /tmp && echo mounted; head -c 10 /proc/timer_list | wc -c`,
			want:   `^CapEff:\s+` + hostCapEff(t) + `\nSeccomp:\s+0\nmounted\n10\n$`},
		{name: "memory limit: killed by the OOM killer",
			flags:  sandbox.Flags{Memory: "16m"},
			script: `tail /dev/zero`, code: 137},
		{name: "pids limit: no fork past it",
			flags:  sandbox.Flags{PidsLimit: 5},
			script: `for i in 1 2 3 4 5 6 7 8; do sleep 10 & done 2>&1; echo done`, want: `can't fork`, code: 2},
		{name: "cpus: the quota in the cgroup",
			flags:  sandbox.Flags{CPUs: "0.5"},
			script: `cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max`,
			want:   `^(50000\n100000|50000 100000)\n$`},
		{name: "read-only root, writable tmpfs",
			flags:  sandbox.Flags{ReadOnly: true, Tmpfs: []string{"/scratch:size=1m"}},
			script: `touch /x 2>&1; touch /scratch/y && echo tmpfs writable; grep ' /scratch ' /proc/mounts`,
			want:   `Read-only file system\ntmpfs writable\ntmpfs /scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k`},
		{name: "mount: bind read-only, tmpfs",
			flags:  sandbox.Flags{Mount: []string{"type=bind,source=" + bindDir + ",target=/b,readonly", "type=tmpfs,target=/t,tmpfs-size=2m"}},
			script: `touch /b/x 2>&1; touch /t/x && echo t writable`, want: `^touch: /b/x: Read-only file system\nt writable\n$`},
		{name: "init is PID 1",
			flags:  sandbox.Flags{Init: true},
			script: `cat /proc/1/comm; echo $$`, want: `^docker-init\n[0-9]+\n$`},
		{name: "ulimit",
			flags:  sandbox.Flags{Ulimit: []string{"nofile=1024:2048"}},
			script: `ulimit -n; ulimit -Hn`, want: `^1024\n2048\n$`},
		{name: "shm size",
			flags:  sandbox.Flags{ShmSize: "128m"},
			script: `df -k /dev/shm | tail -1`, want: `^shm\s+131072\s`},
		{name: "add-host in the build's /etc/hosts",
			flags:  sandbox.Flags{AddHost: []string{"db:10.1.2.3", "gw:host-gateway"}},
			script: `cat /etc/hosts`, want: `\n10\.1\.2\.3\tdb\n127\.0\.0\.1\tgw\n$`},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := sandbox.Parse(c.flags)
			if err != nil {
				t.Fatal(err)
			}
			forEachRuntime(t, func(t *testing.T, f *fixture) {
				s := f.spec("sh", "-c", c.script)
				s.Sandbox = o
				code, out, errOut := f.run(t, s)
				if code != c.code || !regexp.MustCompile(c.want).MatchString(out) {
					t.Errorf("exit %d, output %q (stderr %q); want exit %d, output matching %q", code, out, errOut, c.code, c.want)
				}
			})
		})
	}
}

// hostCapEff is this process's bounding set as /proc/PID/status shows it:
// a privileged container's capabilities.
func hostCapEff(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`CapBnd:\s+([0-9a-f]+)`).FindStringSubmatch(string(b))[1]
}

// TestContainerEtcExtraHosts: --add-host entries follow docker's
// defaults (or the host's file, with the host's network), before the
// container's own name.
func TestContainerEtcExtraHosts(t *testing.T) {
	extra := sandbox.Options{ExtraHosts: []string{"db:10.0.0.1", "v6:::1"}}.HostsEntries()
	hostFile, _ := os.ReadFile("/etc/hosts")
	for _, network := range []string{"none", "host"} {
		dir := t.TempDir()
		if err := WriteContainerEtc(dir, "abc", network, extra, DNS{}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "hosts"))
		want := regexp.MustCompile(`\nff02::2\tip6-allrouters\n10\.0\.0\.1\tdb\n::1\tv6\n127\.0\.1\.1\tabc\n$`)
		if network == "host" {
			want = regexp.MustCompile("^" + regexp.QuoteMeta(strings.TrimSuffix(string(hostFile), "\n")) + "\n10\\.0\\.0\\.1\tdb\n::1\tv6\n$")
		}
		if !want.Match(b) {
			t.Errorf("network %s: hosts\n%s", network, b)
		}
	}
}

// TestDNSResolvConf follows docker 20.10 (recorded with a host resolv.conf
// of one nameserver): each of --dns, --dns-search and --dns-option given
// replaces the host's list of that kind, the rest is kept; written as
// "search", "nameserver" lines, "options".
func TestDNSResolvConf(t *testing.T) {
	host := "# generated\nsearch corp.example\nnameserver 10.255.255.53\noptions edns0\n"
	for _, tc := range []struct {
		name string
		dns  DNS
		want string
	}{
		{"none asked", DNS{}, host},
		{"all three", DNS{Servers: []string{"1.2.3.4", "5.6.7.8"}, Search: []string{"example.com"}, Options: []string{"ndots:2"}},
			"search example.com\nnameserver 1.2.3.4\nnameserver 5.6.7.8\noptions ndots:2\n"},
		{"search only", DNS{Search: []string{"example.com"}}, "search example.com\nnameserver 10.255.255.53\noptions edns0\n"},
		{"servers only", DNS{Servers: []string{"1.2.3.4"}}, "search corp.example\nnameserver 1.2.3.4\noptions edns0\n"},
	} {
		if got := tc.dns.ResolvConf(host); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
	if got := (DNS{Servers: []string{"1.2.3.4"}}).ResolvConf(""); got != "nameserver 1.2.3.4\n" {
		t.Errorf("no host resolv.conf: %q", got)
	}
}
