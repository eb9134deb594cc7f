package sandbox

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"unicode"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Flags are docker's flags of run and create (and, for AddHost, Ulimit
// and ShmSize, of build) as typed, before they are checked.
type Flags struct {
	CapAdd, CapDrop []string
	Privileged      bool
	SecurityOpt     []string
	ReadOnly        bool
	Memory, CPUs    string
	PidsLimit       int64
	Tmpfs, Mount    []string
	Init            bool
	AddHost         []string
	Ulimit          []string
	ShmSize         string
}

// Parse checks f and returns the Options it asks for, or an error that
// names the flag and its value in one line. A seccomp profile file is
// read here, as docker's client reads it: the container keeps the
// profile, not the path.
func Parse(f Flags) (Options, error) {
	o := Options{Privileged: f.Privileged, ReadOnly: f.ReadOnly, Init: f.Init}
	var err error
	for _, c := range f.CapAdd {
		if c, err = NormalizeCap(c); err != nil {
			return Options{}, err
		}
		o.CapAdd = append(o.CapAdd, c)
	}
	for _, c := range f.CapDrop {
		if c, err = NormalizeCap(c); err != nil {
			return Options{}, err
		}
		o.CapDrop = append(o.CapDrop, c)
	}
	for _, s := range f.SecurityOpt {
		if err := parseSecurityOpt(&o, s); err != nil {
			return Options{}, err
		}
	}
	if o.Memory, err = parseMemory(f.Memory); err != nil {
		return Options{}, err
	}
	if o.NanoCPUs, err = ParseCPUs(f.CPUs); err != nil {
		return Options{}, err
	}
	if f.PidsLimit > 0 { // 0 and -1 are docker's "unlimited"
		o.PidsLimit = f.PidsLimit
	}
	for _, t := range f.Tmpfs {
		m, err := ParseTmpfs(t)
		if err != nil {
			return Options{}, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	for _, s := range f.Mount {
		m, err := ParseMount(s)
		if err != nil {
			return Options{}, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	if err := CheckDuplicateTargets(o.Targets()); err != nil {
		return Options{}, err
	}
	for _, h := range f.AddHost {
		h, err := ParseAddHost(h)
		if err != nil {
			return Options{}, err
		}
		o.ExtraHosts = append(o.ExtraHosts, h)
	}
	if o.Ulimits, err = ParseUlimits(f.Ulimit); err != nil {
		return Options{}, err
	}
	if f.ShmSize != "" {
		if o.ShmSize, err = ParseBytes("--shm-size", f.ShmSize); err != nil {
			return Options{}, err
		}
		if o.ShmSize == 0 {
			return Options{}, flagError("--shm-size", f.ShmSize, "the size must be more than 0")
		}
	}
	return o, nil
}

func flagError(flag, value, why string) error {
	return fmt.Errorf("invalid argument %q for %q flag: %s", value, flag, why)
}

// ParseBytes parses a size with docker's units (1024-based: 512k, 64m,
// 1g, or bytes).
func ParseBytes(flag, s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, flagError(flag, s, err.Error())
	}
	if n < 0 {
		return 0, flagError(flag, s, "the size must not be negative")
	}
	return n, nil
}

// minMemory is the smallest --memory dockerd accepts.
const minMemory = 6 << 20

func parseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := ParseBytes("--memory", s)
	if err == nil && n > 0 && n < minMemory {
		//lint:ignore ST1005 docker's words
		err = errors.New("Minimum memory limit allowed is 6MB")
	}
	return n, err
}

// ParseCPUs parses --cpus (a decimal number of CPUs) into nano-CPUs, as
// docker does; more CPUs than this machine has are refused, as dockerd
// refuses them.
func ParseCPUs(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || len(s) > 32 {
		return 0, flagError("--cpus", s, "failed to parse "+s+" as a rational number")
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, flagError("--cpus", s, "value is too precise")
	}
	if nano.Sign() < 0 {
		return 0, flagError("--cpus", s, "the number of CPUs must not be negative")
	}
	n := goruntime.NumCPU()
	if nano.Cmp(big.NewRat(int64(n)*1e9, 1)) > 0 || (nano.Sign() > 0 && nano.Cmp(big.NewRat(1e7, 1)) < 0) {
		return 0, fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	return nano.Num().Int64(), nil
}

// parseSecurityOpt applies one --security-opt value, in docker's forms
// (KEY=VALUE, the older KEY:VALUE, or no-new-privileges alone).
func parseSecurityOpt(o *Options, s string) error {
	key, value, ok := strings.Cut(s, "=")
	if !ok && s != "no-new-privileges" {
		if key, value, ok = strings.Cut(s, ":"); !ok {
			return fmt.Errorf("invalid --security-opt: %q", s)
		}
	}
	switch key {
	case "no-new-privileges":
		if !ok {
			o.NoNewPrivileges = true
			return nil
		}
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("invalid --security-opt: %q: no-new-privileges takes true or false", s)
		}
		o.NoNewPrivileges = b
	case "seccomp":
		switch value {
		case Unconfined:
			o.Seccomp = Unconfined
		case "":
			return fmt.Errorf("invalid --security-opt: %q: seccomp takes unconfined or a profile file", s)
		default:
			body, err := os.ReadFile(value)
			if err != nil {
				return fmt.Errorf("opening seccomp profile (%s) failed: %w", value, err)
			}
			if err := checkProfile(body); err != nil {
				return fmt.Errorf("seccomp profile %s: %w", value, err)
			}
			o.Seccomp = string(body)
		}
	case "systempaths":
		if value != Unconfined {
			return fmt.Errorf("invalid --security-opt: %q: systempaths takes only unconfined", s)
		}
		o.UnmaskedPaths = true
	case "apparmor", "label":
		// strata applies no AppArmor profile and no SELinux label: what
		// turns them off is already so; anything else cannot be done.
		if value != Unconfined && value != "disable" {
			return fmt.Errorf("invalid --security-opt: %q: strata has no %s support (only %s=unconfined or disable)", s, key, key)
		}
	default:
		return fmt.Errorf("invalid --security-opt: %q", s)
	}
	return nil
}

// tmpfsKeys are the tmpfs mount options that take a value.
var tmpfsKeys = map[string]bool{"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true, "nr_blocks": true, "mpol": true, "huge": true}

// tmpfsFlags are the mount flags a tmpfs may be given.
var tmpfsFlags = map[string]bool{
	"ro": true, "rw": true, "exec": true, "noexec": true, "suid": true, "nosuid": true, "dev": true, "nodev": true,
	"atime": true, "noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "nostrictatime": true,
	"diratime": true, "nodiratime": true, "sync": true, "async": true, "dirsync": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// ParseTmpfs parses --tmpfs PATH[:OPTIONS] into a tmpfs mount with
// docker's defaults (noexec, nosuid, nodev) before the options given,
// which override them.
func ParseTmpfs(s string) (specs.Mount, error) {
	dest, opts, _ := strings.Cut(s, ":")
	if err := checkTarget(dest); err != nil {
		return specs.Mount{}, fmt.Errorf("invalid --tmpfs %q: %w", s, err)
	}
	m := specs.Mount{Destination: path.Clean(dest), Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev"}}
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, hasValue := strings.Cut(o, "=")
		if (hasValue && (!tmpfsKeys[k] || v == "" || strings.IndexFunc(v, unicode.IsControl) >= 0)) || (!hasValue && !tmpfsFlags[o]) {
			return specs.Mount{}, fmt.Errorf("invalid --tmpfs %q: unknown option %q", s, o)
		}
		m.Options = append(m.Options, o)
	}
	return m, nil
}

// CheckDuplicateTargets refuses two mounts on one container path, as
// docker does.
func CheckDuplicateTargets(targets []string) error {
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t] {
			//lint:ignore ST1005 docker's words
			return fmt.Errorf("Duplicate mount point: %s", t)
		}
		seen[t] = true
	}
	return nil
}

// checkTarget checks a container path that something is mounted on.
func checkTarget(p string) error {
	switch {
	case p == "":
		return errors.New("the container path is empty")
	case !path.IsAbs(p):
		return fmt.Errorf("the container path %q must be absolute", p)
	case path.Clean(p) == "/":
		return errors.New("cannot mount over the container's root")
	case strings.ContainsRune(p, 0):
		return errors.New("the container path holds a NUL byte")
	}
	return nil
}

// bindPropagations are the values of --mount's bind-propagation.
var bindPropagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// ParseMount parses --mount in docker's syntax: comma-separated
// KEY=VALUE fields (CSV, so a field may be quoted), type=bind or tmpfs
// (volumes do not exist here); source/src, target/destination/dst,
// readonly/ro[=BOOL]; bind-propagation, bind-nonrecursive; tmpfs-size,
// tmpfs-mode. A bind source must exist, as docker requires; one that
// starts with "." is taken from the working directory.
func ParseMount(s string) (specs.Mount, error) {
	bad := func(format string, a ...any) (specs.Mount, error) {
		return specs.Mount{}, fmt.Errorf("invalid argument %q for \"--mount\" flag: %s", s, fmt.Sprintf(format, a...))
	}
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return bad("%v", err)
	}
	typ, source, target, propagation := "volume", "", "", ""
	readOnly, recursive := false, true
	var size int64
	mode := ""
	for _, field := range fields {
		key, value, hasValue := strings.Cut(field, "=")
		key = strings.ToLower(key)
		boolValue := func() (bool, error) {
			if !hasValue {
				return true, nil
			}
			return strconv.ParseBool(value)
		}
		if !hasValue && key != "readonly" && key != "ro" && key != "bind-nonrecursive" {
			return bad("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			typ = strings.ToLower(value)
		case "source", "src":
			source = value
		case "target", "destination", "dst":
			target = value
		case "readonly", "ro":
			if readOnly, err = boolValue(); err != nil {
				return bad("invalid value for %s: %s", key, value)
			}
		case "bind-propagation":
			if !bindPropagations[value] {
				return bad("invalid bind-propagation %q", value)
			}
			propagation = value
		case "bind-nonrecursive":
			nonrec, err := boolValue()
			if err != nil {
				return bad("invalid value for %s: %s", key, value)
			}
			recursive = !nonrec
		case "tmpfs-size":
			if size, err = units.RAMInBytes(value); err != nil || size <= 0 {
				return bad("invalid value for %s: %s", key, value)
			}
		case "tmpfs-mode":
			if _, err := strconv.ParseUint(value, 8, 32); err != nil {
				return bad("invalid value for %s: %s", key, value)
			}
			mode = value
		case "consistency":
			// macOS only; docker ignores it on Linux.
		default:
			return bad("unexpected key '%s' in '%s'", key, field)
		}
	}
	if err := checkTarget(target); err != nil {
		return bad("target: %v", err)
	}
	target = path.Clean(target)
	switch typ {
	case "bind":
		if size > 0 || mode != "" {
			return bad("tmpfs options are only for type=tmpfs")
		}
		if source == "" {
			return bad("source is required when specifying bind mounts")
		}
		if strings.HasPrefix(source, ".") {
			// ".", "./data", "../data": from the working directory, as
			// docker takes them since 23.0.
			abs, err := filepath.Abs(source)
			if err != nil {
				return bad("%v", err)
			}
			source = abs
		}
		if !filepath.IsAbs(source) {
			return bad("invalid mount path: '%s' mount path must be absolute", source)
		}
		if _, err := os.Stat(source); err != nil {
			return bad("bind source path does not exist: %s", source)
		}
		opts := []string{"rbind"}
		if !recursive {
			opts[0] = "bind"
		}
		if propagation == "" {
			propagation = "rprivate"
		}
		opts = append(opts, propagation)
		if readOnly {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: target, Type: "bind", Source: filepath.Clean(source), Options: opts}, nil
	case "tmpfs":
		if source != "" {
			return bad("source is not allowed for tmpfs mounts")
		}
		if propagation != "" || !recursive {
			return bad("bind options are only for type=bind")
		}
		opts := []string{"nosuid", "nodev", "noexec"}
		if readOnly {
			opts = append(opts, "ro")
		}
		if size > 0 {
			opts = append(opts, fmt.Sprintf("size=%dk", (size+1023)/1024))
		}
		if mode != "" {
			opts = append(opts, "mode="+mode)
		}
		return specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case "volume":
		return bad("named volumes are not supported: use type=bind or type=tmpfs")
	default:
		return bad("mount type %q is not supported (bind or tmpfs)", typ)
	}
}

// ParseUlimits parses --ulimit NAME=SOFT[:HARD] values (go-units, docker's
// parser); a later value for a name replaces an earlier one.
func ParseUlimits(values []string) ([]*units.Ulimit, error) {
	var out []*units.Ulimit
	for _, v := range values {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return nil, flagError("--ulimit", v, err.Error())
		}
		replaced := false
		for i, prev := range out {
			if prev.Name == u.Name {
				out[i], replaced = u, true
			}
		}
		if !replaced {
			out = append(out, u)
		}
	}
	return out, nil
}

// HostGateway is docker's name, in --add-host, for an address of the
// host. strata's containers have the host's network or none, so it is
// the loopback address.
const HostGateway = "host-gateway"

// ParseAddHost checks --add-host HOST:IP (or HOST=IP, as newer docker
// also takes) and returns it as HOST:IP.
func ParseAddHost(s string) (string, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" || ip == "" || strings.ContainsAny(name, " \t\n\r#:=") {
		return "", flagError("--add-host", s, "bad format for add-host: "+strconv.Quote(s))
	}
	if ip == HostGateway {
		return name + ":127.0.0.1", nil
	}
	// docker accepts [IPv6] too.
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "", flagError("--add-host", s, "invalid IP address in add-host: "+strconv.Quote(ip))
	}
	return name + ":" + addr.String(), nil
}
