package image

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Platform is the OS, architecture and variant an image is for, in the
// normal form docker and BuildKit compare and print: aliases resolved
// (aarch64 = arm64, x86_64 = amd64), arm64's v8 and amd64's v1 left out
// (they are the only ones a plain "arm64" or "amd64" means), arm's
// variant always spelled out (plain "arm" is v7).
type Platform struct {
	OS, Architecture, Variant string
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// HostPlatform is this machine's platform.
func HostPlatform() Platform {
	return NormalizePlatform(Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH})
}

var knownOS = map[string]bool{
	"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true, "illumos": true,
	"ios": true, "js": true, "linux": true, "netbsd": true, "openbsd": true, "plan9": true,
	"solaris": true, "wasip1": true, "windows": true,
}

// ParsePlatform reads a --platform value: OS/ARCH[/VARIANT], or one word
// that is an OS (this machine's architecture) or an architecture (linux),
// and returns it normalized.
func ParsePlatform(s string) (Platform, error) {
	bad := func() (Platform, error) {
		return Platform{}, errdefs.InvalidArgument(fmt.Errorf("invalid platform %q: want OS/ARCH[/VARIANT], e.g. linux/arm64", s))
	}
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	for _, p := range parts {
		if p == "" {
			return bad()
		}
	}
	var p Platform
	switch len(parts) {
	case 1:
		if knownOS[parts[0]] {
			p = Platform{OS: parts[0], Architecture: runtime.GOARCH}
		} else {
			p = Platform{OS: "linux", Architecture: parts[0]}
		}
	case 2:
		p = Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return bad()
	}
	return NormalizePlatform(p), nil
}

// NormalizePlatform puts p in normal form (see Platform).
func NormalizePlatform(p Platform) Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	arch, variant := strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch arch {
	case "i386", "i486", "i586", "i686", "x86":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		switch variant {
		case "8", "v8", "v8.0":
			variant = ""
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	p.Architecture, p.Variant = arch, variant
	return p
}

// Runs reports whether an image of platform have serves a request for
// want: the same OS and architecture, and a variant want can run (any, if
// want names none; for amd64 and arm, one of the same or a lower level, as
// a v7 machine runs v6 programs). An image that states no OS or
// architecture (made by hand) is taken as it is. Both are normalized
// first.
func (want Platform) Runs(have Platform) bool {
	want, have = NormalizePlatform(want), NormalizePlatform(have)
	if have.OS != "" && have.OS != want.OS {
		return false
	}
	if have.Architecture == "" {
		return true
	}
	if have.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" || have.Variant == want.Variant {
		return true
	}
	switch want.Architecture {
	case "amd64", "arm":
		w, ok1 := variantLevel(want.Variant)
		h, ok2 := variantLevel(have.Variant)
		if have.Variant == "" && want.Architecture == "amd64" {
			h, ok2 = 1, true
		}
		return ok1 && ok2 && h <= w
	}
	return false
}

func variantLevel(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	return n, err == nil && strings.HasPrefix(v, "v")
}
