package builder

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/image"
)

// A build is for one target platform (--platform, default this machine's);
// a stage is for its FROM --platform, or the target's. A stage's base image
// must be for its platform (a stored image for another one is not used: the
// image is pulled for the platform, and a registry that has no manifest for
// it fails the build). COPY and ADD work for any platform; RUN must run the
// platform's programs, which this machine does natively or through a
// binfmt_misc handler (qemu-user), and otherwise refuses before starting
// anything (canExec).

// binfmtDir is where the kernel lists its binfmt_misc handlers (a variable
// so that tests can give a directory of their own).
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// hostPlatform is this machine's platform (a variable for tests).
var hostPlatform = image.HostPlatform

// EmulationError is a RUN step for a platform whose programs this machine
// cannot run.
type EmulationError struct {
	Platform, Host image.Platform
	Reason         string
}

func (e *EmulationError) Error() string {
	return fmt.Sprintf("this step needs to run a %s binary and this machine (%s) cannot: %s", e.Platform, e.Host, e.Reason)
}

// nativeAlso are the platforms a machine's CPU runs besides its own.
var nativeAlso = map[string][]string{"amd64": {"386"}}

// canExec returns nil when programs for p can run here: p is this machine's
// platform (or one its CPU runs), or an enabled binfmt_misc handler with
// the F flag (the interpreter opened at registration, so it works inside a
// container's root) recognises p's executables. Otherwise an
// *EmulationError says why.
func canExec(p image.Platform) error {
	host := hostPlatform()
	if p.OS == host.OS {
		if host.Runs(p) {
			return nil
		}
		for _, a := range nativeAlso[host.Architecture] {
			if p.Architecture == a {
				return nil
			}
		}
	}
	fail := func(reason string) error { return &EmulationError{Platform: p, Host: host, Reason: reason} }
	if p.OS != "linux" {
		return fail("RUN runs linux programs only")
	}
	hdr, ok := elfHeader(p)
	if !ok {
		return fail(fmt.Sprintf("strata cannot tell which binfmt_misc handler (%s) would run its programs", binfmtDir))
	}
	hs, err := readBinfmt(binfmtDir)
	if err != nil {
		return fail(fmt.Sprintf("binfmt_misc handlers unreadable: %v", err))
	}
	var noFix *binfmtHandler
	for i := range hs {
		h := &hs[i]
		if !h.enabled || !h.matches(hdr) {
			continue
		}
		if strings.Contains(h.flags, "F") {
			return nil
		}
		noFix = h
	}
	if noFix != nil {
		return fail(fmt.Sprintf("its binfmt_misc handler %s (%s) is registered without the F flag, so it cannot start inside a container (register it with F, as qemu-user-static and tonistiigi/binfmt do)", noFix.name, noFix.interpreter))
	}
	return fail(fmt.Sprintf("no emulator for %s is registered in binfmt_misc (%s); %s", p, binfmtDir, enableHint()))
}

// enableHint says how a Debian or Ubuntu machine gets qemu-user handlers
// registered (with F, as qemu-user-static's binfmt-support files have
// them), mounting binfmt_misc first where it is not mounted.
func enableHint() string {
	const install = "apt-get install qemu-user-static binfmt-support && update-binfmts --enable"
	if _, err := os.Stat(filepath.Join(binfmtDir, "register")); err != nil {
		return fmt.Sprintf("binfmt_misc is not mounted: mount -t binfmt_misc binfmt_misc %s && %s (or run tonistiigi/binfmt) registers one", binfmtDir, install)
	}
	return install + " (or run tonistiigi/binfmt) registers one"
}

// binfmtHandler is one entry of binfmtDir.
type binfmtHandler struct {
	name        string
	enabled     bool
	interpreter string
	flags       string
	offset      int
	magic, mask []byte // nil for a handler by file extension
}

// matches reports whether the handler recognises a file starting with hdr.
func (h *binfmtHandler) matches(hdr []byte) bool {
	if len(h.magic) == 0 {
		return false
	}
	for i, m := range h.magic {
		mask := byte(0xff)
		if i < len(h.mask) {
			mask = h.mask[i]
		}
		j := h.offset + i
		if j >= len(hdr) {
			if mask != 0 {
				return false
			}
			continue
		}
		if hdr[j]&mask != m&mask {
			return false
		}
	}
	return true
}

// readBinfmt lists the handlers of a binfmt_misc directory: none when it
// is missing or not mounted, or when binfmt_misc is disabled as a whole.
func readBinfmt(dir string) ([]binfmtHandler, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil && strings.TrimSpace(string(b)) == "disabled" {
		return nil, nil
	}
	var out []binfmtHandler
	for _, e := range ents {
		if e.Name() == "status" || e.Name() == "register" || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // not readable by this user: it cannot be told apart
		}
		out = append(out, parseBinfmt(e.Name(), b))
	}
	return out, nil
}

// parseBinfmt reads a handler as the kernel shows it:
//
//	enabled
//	interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
//	flags: POCF
//	offset 0
//	magic 7f454c460201010000000000000000000200b700
//	mask ffffffffffffff00fffffffffffffffffeffffff
func parseBinfmt(name string, b []byte) binfmtHandler {
	h := binfmtHandler{name: name}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		v = strings.TrimSpace(v)
		switch k {
		case "enabled":
			h.enabled = true
		case "interpreter":
			h.interpreter = v
		case "flags:":
			h.flags = v
		case "offset":
			h.offset, _ = strconv.Atoi(v)
		case "magic":
			h.magic, _ = hex.DecodeString(v)
		case "mask":
			h.mask, _ = hex.DecodeString(v)
		}
	}
	return h
}

// elfMachines are the ELF class, byte order and machine of each
// architecture's executables.
var elfMachines = map[string]struct {
	is64, bigEndian bool
	machine         uint16
}{
	"386":      {false, false, 3},
	"amd64":    {true, false, 62},
	"arm":      {false, false, 40},
	"arm64":    {true, false, 183},
	"loong64":  {true, false, 258},
	"mips":     {false, true, 8},
	"mipsle":   {false, false, 8},
	"mips64":   {true, true, 8},
	"mips64le": {true, false, 8},
	"ppc64":    {true, true, 21},
	"ppc64le":  {true, false, 21},
	"riscv64":  {true, false, 243},
	"s390x":    {true, true, 22},
}

// elfHeader is the start of a linux executable for p: ELF identification,
// type (EXEC) and machine, which binfmt_misc handlers match.
func elfHeader(p image.Platform) ([]byte, bool) {
	m, ok := elfMachines[p.Architecture]
	if !ok || p.OS != "linux" {
		return nil, false
	}
	var hdr bytes.Buffer
	class, data := byte(1), byte(1)
	if m.is64 {
		class = 2
	}
	var order binary.ByteOrder = binary.LittleEndian
	if m.bigEndian {
		data, order = 2, binary.BigEndian
	}
	hdr.Write([]byte{0x7f, 'E', 'L', 'F', class, data, 1, 0})
	hdr.Write(make([]byte, 8))
	binary.Write(&hdr, order, uint16(2)) // ET_EXEC
	binary.Write(&hdr, order, m.machine)
	return hdr.Bytes(), true
}

// parsePlatform reads a --platform or FROM --platform value.
func parsePlatform(s string) (image.Platform, error) {
	if s == "" || s == "local" {
		return hostPlatform(), nil
	}
	return image.ParsePlatform(s)
}
