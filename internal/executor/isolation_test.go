package executor

import (
	"strings"
	"testing"
)

func TestParseIsolation(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "", ""}, {"oci", "oci", ""}, {"chroot", "chroot", ""},
		{"rootless", "", `invalid --isolation "rootless" (want oci or chroot)`},
	} {
		got, err := ParseIsolation(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("ParseIsolation(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// The tests run as root on a host: namespaces can be made, so nothing
// chooses chroot.
func TestChooseIsolationOnHost(t *testing.T) {
	if err := NamespacesRefused(); err != nil {
		t.Skipf("namespaces refused here: %v", err)
	}
	for asked, want := range map[string]string{"": IsolationOCI, "oci": IsolationOCI, "chroot": IsolationChroot} {
		iso, why, err := ChooseIsolation(asked)
		if asked == "chroot" && !InContainer() {
			// A machine's own root is never a build root.
			if err == nil || !strings.Contains(err.Error(), "refused outside a container") {
				t.Errorf("ChooseIsolation(chroot) outside a container = %q, %v", iso, err)
			}
			continue
		}
		if iso != want || why != nil || err != nil {
			t.Errorf("ChooseIsolation(%q) = %q, %v, %v; want %q", asked, iso, why, err, want)
		}
	}
}

func TestLookPathUsesTheStepsPath(t *testing.T) {
	if p, err := lookPath("sh", []string{"PATH=/nonexistent:/bin"}); err != nil || p != "/bin/sh" {
		t.Errorf("lookPath(sh) = %q, %v", p, err)
	}
	if _, err := lookPath("sh", []string{"PATH=/nonexistent"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("lookPath with no sh in PATH: %v", err)
	}
}
