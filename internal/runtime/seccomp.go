package runtime

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/atomicfile"
)

// crun compiles a container's seccomp profile with libseccomp each time it
// makes a container: for docker's default profile that is 20-25 ms of CPU,
// more than half of what `crun run` takes here. It can load a program
// compiled before instead (the annotation below: the raw BPF program,
// base64), and it writes the program it compiled to seccomp.bpf in the
// container's state directory (for exec). The seccomp cache keeps that
// program for the next container with the same profile, run by the same
// crun with the same libseccomp.
//
// The config keeps its seccomp section: a crun that does not know the
// annotation compiles the profile as before, and inspect shows it.
const seccompAnnotation = "run.oci.seccomp_bpf_data"

// seccompMagic starts a cache entry: then the libseccomp crun was linked
// with (path and identity, "-" for none), the program's sha256, and the
// program.
const seccompMagic = "strata-seccomp-v1"

// shell runs the hook that copies the program out.
const shell = "/bin/sh"

// maxBPFInstructions is the kernel's limit for one classic BPF program
// (BPF_MAXINSNS).
const maxBPFInstructions = 4096

// CompiledSeccomp prepares spec, the config of container id, to use the
// seccomp cache: with the program of its profile found, crun is told to
// load it; else a hook copies the program crun compiles, and the
// returned function (always called after the runtime exits) keeps it. It
// does nothing for runc, a container without seccomp, or a profile with
// flags or a listener (the annotation is only the program).
func (r *Runtime) CompiledSeccomp(id string, spec *specs.Spec) (keep func()) {
	keep = func() {}
	if !r.isCrun() || r.SeccompCache == "" || spec.Linux == nil || spec.Linux.Seccomp == nil {
		return keep
	}
	sc := spec.Linux.Seccomp
	if len(sc.Flags) > 0 || sc.ListenerPath != "" {
		return keep
	}
	key, err := r.seccompKey(sc)
	if err != nil {
		return keep
	}
	entry := filepath.Join(r.SeccompCache, key)
	if prog, err := readSeccompEntry(entry); err == nil {
		if spec.Annotations == nil {
			spec.Annotations = map[string]string{}
		}
		spec.Annotations[seccompAnnotation] = base64.StdEncoding.EncodeToString(prog)
		return keep
	}
	if _, err := os.Stat(shell); err != nil {
		return keep
	}
	if err := os.MkdirAll(r.SeccompCache, 0o700); err != nil {
		return keep
	}
	incoming := filepath.Join(r.SeccompCache, "incoming-"+id)
	os.Remove(incoming)
	// After the container: crun makes seccomp.bpf before its hooks
	// run, and writes it when the container's process loads it. The copy
	// never fails (a crun that wrote no program leaves nothing to keep): a
	// failed poststop hook does not fail the container, but the runtime
	// warns.
	if spec.Hooks == nil {
		spec.Hooks = &specs.Hooks{}
	}
	spec.Hooks.Poststop = append(spec.Hooks.Poststop, specs.Hook{
		Path: shell,
		Args: []string{"sh", "-c", `cp -- "$0" "$1" 2>/dev/null; exit 0`, filepath.Join(r.Root, id, "seccomp.bpf"), incoming},
	})
	return func() {
		defer os.Remove(incoming)
		prog, err := os.ReadFile(incoming)
		if err != nil || checkBPF(prog) != nil {
			return
		}
		lib, err := crunLibseccomp(r.Path)
		if err != nil {
			return
		}
		if writeSeccompEntry(entry, lib, prog) == nil {
			trimSeccompCache(r.SeccompCache, maxSeccompEntries, time.Now())
		}
	}
}

// maxSeccompEntries bounds the seccomp cache: an entry is written once per
// profile and crun build, and those of a crun since replaced (a package
// upgrade changes the key) would otherwise stay for good.
const maxSeccompEntries = 32

// staleIncoming is the age after which a program copied out by the hook and
// never kept, or an entry half written (strata killed in between), is
// thrown away.
const staleIncoming = time.Hour

// trimSeccompCache removes the oldest entries beyond max and the stale
// incoming copies. Entries are named by their key, written once: the oldest
// are the least likely to be those of the crun installed now.
func trimSeccompCache(dir string, max int, now time.Time) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		mod  time.Time
	}
	var entries []entry
	for _, de := range des {
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		name := de.Name()
		switch {
		case strings.HasPrefix(name, "incoming-"), strings.HasPrefix(name, ".strata-tmp-"):
			// A copy or an entry half written when strata was killed.
			if now.Sub(info.ModTime()) > staleIncoming {
				os.Remove(filepath.Join(dir, name))
			}
		case len(name) == sha256.Size*2:
			entries = append(entries, entry{name, info.ModTime()})
		}
	}
	if len(entries) <= max {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mod.Compare(b.mod) })
	for _, e := range entries[:len(entries)-max] {
		os.Remove(filepath.Join(dir, e.name))
	}
}

// seccompKey names the cache entry of a profile compiled by this crun.
func (r *Runtime) seccompKey(sc *specs.LinuxSeccomp) (string, error) {
	profile, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	crun, err := fileIdentity(r.Path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", goruntime.GOARCH, r.Path, crun)
	h.Write(profile)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileIdentity changes whenever the file is replaced or rewritten (a
// package upgrade).
func fileIdentity(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec), nil
}

// crunLibseccomp is the libseccomp crun is linked with and its identity
// ("-" when crun has it built in): an upgraded libseccomp may compile the
// same profile differently (syscalls it did not know before).
func crunLibseccomp(crun string) (string, error) {
	f, err := elf.Open(crun)
	if err != nil {
		return "", err
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		return "", err
	}
	for _, l := range libs {
		if !strings.HasPrefix(l, "libseccomp.so") {
			continue
		}
		for _, dir := range libDirs() {
			p := filepath.Join(dir, l)
			if id, err := fileIdentity(p); err == nil {
				return p + " " + id, nil
			}
		}
		return "", fmt.Errorf("%s: %s not found", crun, l)
	}
	return "-", nil
}

// libDirs are where the dynamic linker finds libraries on Debian and
// most distributions.
func libDirs() []string {
	triple := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "arm": "arm-linux-gnueabihf",
		"386": "i386-linux-gnu", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu", "riscv64": "riscv64-linux-gnu"}[goruntime.GOARCH]
	var dirs []string
	if triple != "" {
		dirs = append(dirs, "/lib/"+triple, "/usr/lib/"+triple)
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")
}

// checkBPF checks that prog is a whole classic BPF program as libseccomp
// writes them: whole instructions, within the kernel's limit, starting by
// loading the architecture (seccomp_data.arch, offset 4).
func checkBPF(prog []byte) error {
	n := len(prog) / 8
	if len(prog)%8 != 0 || n == 0 || n > maxBPFInstructions {
		return fmt.Errorf("not a BPF program (%d bytes)", len(prog))
	}
	const ldAbsW = 0x20 // BPF_LD | BPF_W | BPF_ABS
	if code, k := binary.NativeEndian.Uint16(prog[0:2]), binary.NativeEndian.Uint32(prog[4:8]); code != ldAbsW || k != 4 {
		return fmt.Errorf("not a seccomp program from libseccomp")
	}
	return nil
}

// readSeccompEntry returns the program of a cache entry whose libseccomp
// is still the one that compiled it; any doubt is a miss.
func readSeccompEntry(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	prog, err := parseSeccompEntry(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return prog, nil
}

func parseSeccompEntry(raw []byte) ([]byte, error) {
	header, prog, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("no header")
	}
	f := strings.Fields(string(header))
	if len(f) < 3 || f[0] != seccompMagic {
		return nil, fmt.Errorf("not a seccomp cache entry")
	}
	sum := sha256.Sum256(prog)
	if f[len(f)-1] != hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("damaged")
	}
	switch lib := f[1 : len(f)-1]; {
	case len(lib) == 1 && lib[0] == "-":
	case len(lib) == 2:
		if id, err := fileIdentity(lib[0]); err != nil || id != lib[1] {
			return nil, fmt.Errorf("libseccomp changed")
		}
	default:
		return nil, fmt.Errorf("bad header")
	}
	return prog, checkBPF(prog)
}

// writeSeccompEntry writes an entry whole or not at all. Not synced: a
// cache, and a damaged entry is found by its checksum.
func writeSeccompEntry(path, lib string, prog []byte) error {
	sum := sha256.Sum256(prog)
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := fmt.Fprintf(w, "%s %s %s\n", seccompMagic, lib, hex.EncodeToString(sum[:])); err != nil {
			return err
		}
		_, err := w.Write(prog)
		return err
	})
}
