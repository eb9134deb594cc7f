package sandbox

import (
	"path"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkMount fails unless m is a mount the runtime may be given: on a
// clean absolute path other than /, of a type strata makes.
func checkMount(t *testing.T, in string, m specs.Mount) {
	t.Helper()
	d := m.Destination
	if !path.IsAbs(d) || path.Clean(d) != d || d == "/" || strings.ContainsRune(d, 0) {
		t.Fatalf("%q: destination %q", in, d)
	}
	if m.Type != "bind" && m.Type != "tmpfs" {
		t.Fatalf("%q: type %q", in, m.Type)
	}
	if m.Type == "bind" && !path.IsAbs(m.Source) {
		t.Fatalf("%q: bind source %q", in, m.Source)
	}
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{
		"type=bind,source=/tmp,target=/data,readonly", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770",
		`"type=bind","src=/tmp","dst=/a,b"`, "type=bind,source=/,target=/x,bind-propagation=rslave,bind-nonrecursive=true",
		"target=/x", "type=tmpfs,target=/../x", "type=bind,target", `type="bind`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Fatalf("%q: error of several lines: %v", s, err)
			}
			return
		}
		checkMount(t, s, m)
	})
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/run", "/run:rw,size=64m,mode=1777,exec", "run", "/:size=1m", "/a:b:c", "/x:size="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTmpfs(s)
		if err != nil {
			return
		}
		checkMount(t, s, m)
		for _, o := range m.Options {
			if strings.ContainsAny(o, ",\x00") || o == "" {
				t.Fatalf("%q: option %q", s, o)
			}
		}
	})
}

func FuzzParseUlimits(f *testing.F) {
	for _, s := range []string{"nofile=1024:2048", "nproc=100", "nofile=2048:1024", "core=-1", "bogus=1", "nofile"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		us, err := ParseUlimits([]string{s})
		if err != nil {
			return
		}
		if len(us) != 1 || us[0].Soft > us[0].Hard && us[0].Hard != -1 {
			t.Fatalf("%q: %+v", s, us)
		}
	})
}

// FuzzParse runs the flags that take numbers and names: --memory,
// --shm-size, --cpus, --add-host, --cap-add and --security-opt (other than
// a profile file, which would be read from the host).
func FuzzParse(f *testing.F) {
	for _, s := range [][6]string{
		{"512m", "64m", "0.5", "db:10.0.0.1", "sys_admin", "no-new-privileges"},
		{"1.5GB", "1", "1/4", "v6:::1", "ALL", "seccomp=unconfined"},
		{"-1", "0", "1e3", "gw:host-gateway", "CAP_", "systempaths=unconfined"},
		{"10x", "9999999999999999999g", "0.0000000001", "x=[fe80::1%eth0]", "chown", "apparmor:unconfined"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, memory, shm, cpus, host, capName, secOpt string) {
		if strings.HasPrefix(secOpt, "seccomp") && !strings.HasSuffix(secOpt, Unconfined) {
			return
		}
		o, err := Parse(Flags{Memory: memory, ShmSize: shm, CPUs: cpus, AddHost: []string{host}, CapAdd: []string{capName}, SecurityOpt: []string{secOpt}})
		if err != nil {
			return
		}
		if o.Memory < 0 || (o.Memory > 0 && o.Memory < minMemory) || o.ShmSize < 0 || o.NanoCPUs < 0 {
			t.Fatalf("%+v", o)
		}
		again, err := ParseAddHost(o.ExtraHosts[0])
		if err != nil || again != o.ExtraHosts[0] || strings.ContainsAny(o.HostsEntries()[:len(o.HostsEntries())-1], "\n#") {
			t.Fatalf("add-host %q became %q, then %q, %v", host, o.ExtraHosts[0], again, err)
		}
	})
}

// FuzzSeccompProfile: a profile a user gives is checked when given and
// converted at every start; neither may panic, and one that passes the
// check converts.
func FuzzSeccompProfile(f *testing.F) {
	for _, s := range []string{
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"],"minKernel":"4.8"}}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"]}]}`,
		`{}`, `{`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if checkProfile([]byte(body)) != nil {
			return
		}
		if err := (Options{Seccomp: body}).Apply(baseSpec()); err != nil {
			t.Fatalf("%q passed the check but does not convert: %v", body, err)
		}
	})
}
