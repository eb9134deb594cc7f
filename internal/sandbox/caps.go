package sandbox

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
)

// DefaultCaps is docker's default capability set.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// allCaps is the word --cap-add and --cap-drop take for every capability.
const allCaps = "ALL"

// NormalizeCap turns a --cap-add or --cap-drop value into docker's form:
// upper case with the CAP_ prefix (ALL stays ALL). A capability the
// kernel headers do not know is an error, as docker's.
func NormalizeCap(name string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(name))
	if c == allCaps {
		return c, nil
	}
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	for _, k := range capability.ListKnown() {
		if c == capName(k) {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown capability: %q", c)
}

func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// hostCaps are the capabilities this process may give (those of the
// kernel in its bounding set): a privileged container's, as docker
// computes them. Inside another container the set may lack some.
func hostCaps() ([]string, error) {
	self, err := capability.NewPid2(0)
	if err == nil {
		err = self.Load()
	}
	if err != nil {
		return nil, fmt.Errorf("read this process's capabilities: %w", err)
	}
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("list the kernel's capabilities: %w", err)
	}
	var out []string
	for _, c := range supported {
		if self.Get(capability.BOUNDING, c) {
			out = append(out, capName(c))
		}
	}
	return out, nil
}

// capabilities is the container's capability set, computed as docker's
// (moby's caps.TweakCapabilities): privileged has all; ALL in CapAdd is
// all but those dropped; ALL in CapDrop is only those added; else the
// defaults less those dropped plus those added.
func (o Options) capabilities() ([]string, error) {
	if o.Privileged || slices.Contains(o.CapAdd, allCaps) {
		all, err := hostCaps()
		if err != nil || o.Privileged {
			return all, err
		}
		return slices.DeleteFunc(all, func(c string) bool { return slices.Contains(o.CapDrop, c) }), nil
	}
	var caps []string
	if !slices.Contains(o.CapDrop, allCaps) {
		for _, c := range DefaultCaps {
			if !slices.Contains(o.CapDrop, c) {
				caps = append(caps, c)
			}
		}
	}
	for _, c := range o.CapAdd {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	return caps, nil
}
