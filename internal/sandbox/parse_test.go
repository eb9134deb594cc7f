package sandbox

import (
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkParsed fails unless a parser gave want (wantErr "") or a one-line
// error holding wantErr.
func checkParsed[T any](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("got %+v, %v; want a one-line error with %q", got, err, wantErr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in      string
		want    specs.Mount
		wantErr string
	}{
		{in: "type=bind,source=" + dir + ",target=/data",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "rprivate"}}},
		{in: "type=bind,src=" + dir + ",dst=/data/,readonly",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "rprivate", "ro"}}},
		{in: "type=bind,source=" + dir + ",destination=/d,ro=false,bind-propagation=rslave,bind-nonrecursive",
			want: specs.Mount{Destination: "/d", Type: "bind", Source: dir, Options: []string{"bind", "rslave"}}},
		{in: `"type=bind","source=` + dir + `","target=/with,comma"`,
			want: specs.Mount{Destination: "/with,comma", Type: "bind", Source: dir, Options: []string{"rbind", "rprivate"}}},
		{in: "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770",
			want: specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "size=65536k", "mode=1770"}}},
		{in: "TYPE=TMPFS,Target=/t,readonly=1",
			want: specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "ro"}}},
		{in: "type=bind,source=" + dir, wantErr: "target: the container path is empty"},
		{in: "type=bind,target=/x", wantErr: "source is required when specifying bind mounts"},
		{in: "type=bind,source=rel,target=/x", wantErr: "mount path must be absolute"},
		{in: "type=bind,source=.,target=/x", want: specs.Mount{Destination: "/x", Type: "bind", Source: wd, Options: []string{"rbind", "rprivate"}}},
		{in: "type=bind,source=../" + filepath.Base(wd) + "/,target=/x", want: specs.Mount{Destination: "/x", Type: "bind", Source: wd, Options: []string{"rbind", "rprivate"}}},
		{in: "type=bind,source=./no-such-dir,target=/x", wantErr: "bind source path does not exist: " + filepath.Join(wd, "no-such-dir")},
		{in: "type=bind,source=/no/such/dir,target=/x", wantErr: "bind source path does not exist: /no/such/dir"},
		{in: "type=bind,source=" + dir + ",target=relative", wantErr: `the container path "relative" must be absolute`},
		{in: "type=bind,source=" + dir + ",target=/", wantErr: "cannot mount over the container's root"},
		{in: "target=/x", wantErr: "named volumes are not supported"},
		{in: "type=volume,source=v,target=/x", wantErr: "named volumes are not supported"},
		{in: "type=npipe,target=/x", wantErr: `mount type "npipe" is not supported`},
		{in: "type=tmpfs,source=x,target=/x", wantErr: "source is not allowed for tmpfs mounts"},
		{in: "type=tmpfs,target=/x,bind-propagation=shared", wantErr: "bind options are only for type=bind"},
		{in: "type=bind,source=" + dir + ",target=/x,tmpfs-size=1m", wantErr: "tmpfs options are only for type=tmpfs"},
		{in: "type=tmpfs,target=/x,tmpfs-size=lots", wantErr: "invalid value for tmpfs-size: lots"},
		{in: "type=tmpfs,target=/x,tmpfs-mode=999", wantErr: "invalid value for tmpfs-mode: 999"},
		{in: "type=bind,source=" + dir + ",target=/x,bind-propagation=up", wantErr: `invalid bind-propagation "up"`},
		{in: "type=bind,source=" + dir + ",target=/x,readonly=maybe", wantErr: "invalid value for readonly: maybe"},
		{in: "type=bind,bogus=1,target=/x", wantErr: "unexpected key 'bogus' in 'bogus=1'"},
		{in: "type=bind,target", wantErr: "invalid field 'target' must be a key=value pair"},
		{in: `type="bind`, wantErr: `bare " in non-quoted-field`},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseMount(c.in)
			checkParsed(t, got, err, c.want, c.wantErr)
			if err != nil && !strings.HasPrefix(err.Error(), `invalid argument "`) {
				t.Errorf("the error does not name the flag: %v", err)
			}
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []string // options
		wantErr string
	}{
		{in: "/run", want: []string{"noexec", "nosuid", "nodev"}},
		{in: "/run:rw,size=64m,mode=1777,exec", want: []string{"noexec", "nosuid", "nodev", "rw", "size=64m", "mode=1777", "exec"}},
		{in: "/run:uid=1000,gid=1000,nr_inodes=100", want: []string{"noexec", "nosuid", "nodev", "uid=1000", "gid=1000", "nr_inodes=100"}},
		{in: "run", wantErr: `the container path "run" must be absolute`},
		{in: "/:size=1m", wantErr: "cannot mount over the container's root"},
		{in: "", wantErr: "the container path is empty"},
		{in: "/run:bogus", wantErr: `unknown option "bogus"`},
		{in: "/run:size=", wantErr: `unknown option "size="`},
		{in: "/run:color=red", wantErr: `unknown option "color=red"`},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseTmpfs(c.in)
			dest, _, _ := strings.Cut(c.in, ":")
			checkParsed(t, got, err, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: c.want}, c.wantErr)
		})
	}
}

func TestParseUlimits(t *testing.T) {
	for _, c := range []struct {
		in      []string
		want    []*units.Ulimit
		wantErr string
	}{
		{in: []string{"nofile=1024:2048"}, want: []*units.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}}},
		{in: []string{"nproc=100"}, want: []*units.Ulimit{{Name: "nproc", Soft: 100, Hard: 100}}},
		{in: []string{"nofile=1:2", "core=0", "nofile=3:4"}, want: []*units.Ulimit{{Name: "nofile", Soft: 3, Hard: 4}, {Name: "core", Soft: 0, Hard: 0}}},
		{in: []string{"nofile=2048:1024"}, wantErr: "soft limit must be less than or equal to hard limit"},
		{in: []string{"bogus=1"}, wantErr: "invalid ulimit type: bogus"},
		{in: []string{"nofile"}, wantErr: "invalid ulimit argument: nofile"},
		{in: []string{"nofile=x"}, wantErr: `invalid argument "nofile=x" for "--ulimit" flag`},
	} {
		t.Run(strings.Join(c.in, " "), func(t *testing.T) {
			got, err := ParseUlimits(c.in)
			checkParsed(t, got, err, c.want, c.wantErr)
		})
	}
}

func TestParseSizesAndCPUs(t *testing.T) {
	n := goruntime.NumCPU()
	for _, c := range []struct {
		flags   Flags
		want    Options
		wantErr string
	}{
		{flags: Flags{Memory: "512m"}, want: Options{Memory: 512 << 20}},
		{flags: Flags{Memory: "1g", ShmSize: "128m"}, want: Options{Memory: 1 << 30, ShmSize: 128 << 20}},
		{flags: Flags{Memory: "6291456"}, want: Options{Memory: 6 << 20}},
		{flags: Flags{Memory: "1.5GB"}, want: Options{Memory: 3 << 29}},
		{flags: Flags{Memory: "4m"}, wantErr: "Minimum memory limit allowed is 6MB"},
		{flags: Flags{Memory: "10x"}, wantErr: `invalid argument "10x" for "--memory" flag: invalid suffix: 'x'`},
		{flags: Flags{Memory: "-1"}, wantErr: `invalid argument "-1" for "--memory" flag`},
		{flags: Flags{ShmSize: "0"}, wantErr: "the size must be more than 0"},
		{flags: Flags{CPUs: "0.5"}, want: Options{NanoCPUs: 5e8}},
		{flags: Flags{CPUs: "1"}, want: Options{NanoCPUs: 1e9}},
		{flags: Flags{CPUs: "0"}, want: Options{}},
		{flags: Flags{CPUs: "1/4"}, want: Options{NanoCPUs: 25e7}},
		{flags: Flags{CPUs: "half"}, wantErr: "failed to parse half as a rational number"},
		{flags: Flags{CPUs: "0.0000000001"}, wantErr: "value is too precise"},
		{flags: Flags{CPUs: "-1"}, wantErr: "must not be negative"},
		{flags: Flags{CPUs: "0.001"}, wantErr: "range of CPUs is from 0.01"},
		{flags: Flags{CPUs: strconv.Itoa(n + 1)}, wantErr: "as there are only " + strconv.Itoa(n) + " CPUs available"},
		{flags: Flags{PidsLimit: 100}, want: Options{PidsLimit: 100}},
		{flags: Flags{PidsLimit: -1}, want: Options{}},
		{flags: Flags{AddHost: []string{"db:10.0.0.1", "v6:::1", "br=[fe80::1]", "gw:host-gateway"}},
			want: Options{ExtraHosts: []string{"db:10.0.0.1", "v6:::1", "br:fe80::1", "gw:127.0.0.1"}}},
		{flags: Flags{AddHost: []string{"db"}}, wantErr: `bad format for add-host: "db"`},
		{flags: Flags{AddHost: []string{"db:"}}, wantErr: `bad format for add-host`},
		{flags: Flags{AddHost: []string{"bad name:1.2.3.4"}}, wantErr: `bad format for add-host`},
		{flags: Flags{AddHost: []string{"db:1.2.3"}}, wantErr: `invalid IP address in add-host: "1.2.3"`},
		{flags: Flags{Tmpfs: []string{"/a"}, Mount: []string{"type=tmpfs,target=/a"}}, wantErr: "Duplicate mount point: /a"},
	} {
		t.Run(strings.TrimSpace(strings.Join([]string{c.flags.Memory, c.flags.CPUs, c.flags.ShmSize, strings.Join(c.flags.AddHost, " "), strconv.FormatInt(c.flags.PidsLimit, 10)}, " ")), func(t *testing.T) {
			got, err := Parse(c.flags)
			checkParsed(t, got, err, c.want, c.wantErr)
		})
	}
}

func TestParseSecurity(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "p.json")
	body := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`
	os.WriteFile(profile, []byte(body), 0o644)
	notJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(notJSON, []byte("{"), 0o644)
	both := filepath.Join(dir, "both.json")
	os.WriteFile(both, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	for _, c := range []struct {
		name    string
		flags   Flags
		want    Options
		wantErr string
	}{
		{name: "cap names in every form", flags: Flags{CapAdd: []string{"sys_admin", "CAP_NET_ADMIN", "Net_Raw"}, CapDrop: []string{"chown", "all"}},
			want: Options{CapAdd: []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_NET_RAW"}, CapDrop: []string{"CAP_CHOWN", "ALL"}}},
		{name: "unknown cap", flags: Flags{CapAdd: []string{"FLY"}}, wantErr: `unknown capability: "CAP_FLY"`},
		{name: "unknown cap dropped", flags: Flags{CapDrop: []string{"CAP_"}}, wantErr: `unknown capability: "CAP_"`},
		{name: "no-new-privileges", flags: Flags{SecurityOpt: []string{"no-new-privileges"}}, want: Options{NoNewPrivileges: true}},
		{name: "no-new-privileges=true", flags: Flags{SecurityOpt: []string{"no-new-privileges=true"}}, want: Options{NoNewPrivileges: true}},
		{name: "no-new-privileges:false", flags: Flags{SecurityOpt: []string{"no-new-privileges:false"}}, want: Options{}},
		{name: "no-new-privileges=yes", flags: Flags{SecurityOpt: []string{"no-new-privileges=yes"}}, wantErr: "no-new-privileges takes true or false"},
		{name: "seccomp unconfined", flags: Flags{SecurityOpt: []string{"seccomp=unconfined"}}, want: Options{Seccomp: Unconfined}},
		{name: "seccomp:unconfined", flags: Flags{SecurityOpt: []string{"seccomp:unconfined"}}, want: Options{Seccomp: Unconfined}},
		{name: "seccomp file is read", flags: Flags{SecurityOpt: []string{"seccomp=" + profile}}, want: Options{Seccomp: body}},
		{name: "seccomp file missing", flags: Flags{SecurityOpt: []string{"seccomp=" + dir + "/none.json"}}, wantErr: "opening seccomp profile"},
		{name: "seccomp file not JSON", flags: Flags{SecurityOpt: []string{"seccomp=" + notJSON}}, wantErr: "bad.json: not JSON"},
		{name: "seccomp profile dockerd refuses", flags: Flags{SecurityOpt: []string{"seccomp=" + both}}, wantErr: "both 'name' and 'names'"},
		{name: "seccomp empty", flags: Flags{SecurityOpt: []string{"seccomp="}}, wantErr: "seccomp takes unconfined or a profile file"},
		{name: "systempaths", flags: Flags{SecurityOpt: []string{"systempaths=unconfined"}}, want: Options{UnmaskedPaths: true}},
		{name: "systempaths other", flags: Flags{SecurityOpt: []string{"systempaths=x"}}, wantErr: "systempaths takes only unconfined"},
		{name: "apparmor off is so already", flags: Flags{SecurityOpt: []string{"apparmor=unconfined", "label=disable"}}, want: Options{}},
		{name: "apparmor profile", flags: Flags{SecurityOpt: []string{"apparmor=docker-default"}}, wantErr: "strata has no apparmor support"},
		{name: "no separator", flags: Flags{SecurityOpt: []string{"seccomp"}}, wantErr: `invalid --security-opt: "seccomp"`},
		{name: "unknown key", flags: Flags{SecurityOpt: []string{"color=red"}}, wantErr: `invalid --security-opt: "color=red"`},
		{name: "switches", flags: Flags{Privileged: true, ReadOnly: true, Init: true}, want: Options{Privileged: true, ReadOnly: true, Init: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.flags)
			checkParsed(t, got, err, c.want, c.wantErr)
		})
	}
}
