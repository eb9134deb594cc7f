package testutil

import (
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"
)

// Busybox is Debian's busybox-static binary the rootfs is made of.
const Busybox = "/bin/busybox"

// Passwd and Group are the rootfs's account files: root, and nobody with
// a supplementary group, for -u tests.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/sh\n"
	Group  = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n"
)

// BusyboxRootfs returns the entries of a busybox root filesystem, as
// anchors/setup.sh make_busybox_rootfs builds it with the shell:
// /bin/busybox, a symlink to it for every applet, the usual top-level
// directories (/tmp sticky) and /etc/passwd and /etc/group. It skips the
// test when busybox-static is not installed.
func BusyboxRootfs(t testing.TB) []Entry {
	t.Helper()
	bin, err := os.ReadFile(Busybox)
	if err != nil {
		t.Skipf("busybox-static is not installed: %v", err)
	}
	return busyboxRootfs(t, bin)
}

// ForeignBusyboxDir is where scripts/foreign-busybox.sh keeps Debian's
// busybox-static for other architectures: DIR/ARCH/bin/busybox
// ($STRATA_TEST_CACHE/busybox, default /var/cache/strata-test/busybox).
func ForeignBusyboxDir() string {
	if d := os.Getenv("STRATA_TEST_CACHE"); d != "" {
		return path.Join(d, "busybox")
	}
	return "/var/cache/strata-test/busybox"
}

// BusyboxRootfsFor is BusyboxRootfs with the busybox-static binary of a
// Debian architecture (arm64, armhf, ...): the same Debian package built
// for it, so the same applets. scripts/foreign-busybox.sh ARCH fetches it
// (scripts/test.sh does, for arm64).
func BusyboxRootfsFor(t testing.TB, debArch string) []Entry {
	t.Helper()
	p := path.Join(ForeignBusyboxDir(), debArch, "bin/busybox")
	bin, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("Debian's busybox-static for %s is missing (%v): run scripts/foreign-busybox.sh %s", debArch, err, debArch)
	}
	return busyboxRootfs(t, bin)
}

func busyboxRootfs(t testing.TB, bin []byte) []Entry {
	out, err := exec.Command(Busybox, "--list-full").Output()
	if err != nil {
		t.Fatalf("busybox --list-full: %v", err)
	}
	var entries []Entry
	dirs := map[string]bool{}
	var mkdir func(d string, mode int64)
	mkdir = func(d string, mode int64) {
		if d == "." || d == "" || dirs[d] {
			return
		}
		mkdir(path.Dir(d), 0o755)
		dirs[d] = true
		entries = append(entries, Entry{Name: d + "/", Mode: mode})
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev", "var", "home/nobody"} {
		mkdir(d, 0o755)
	}
	mkdir("tmp", 0o1777)
	entries = append(entries, Entry{Name: "bin/busybox", Body: string(bin), Mode: 0o755})
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "bin/busybox" {
			continue
		}
		mkdir(path.Dir(a), 0o755)
		entries = append(entries, Symlink(a, "/bin/busybox"))
	}
	return append(entries, File("etc/passwd", Passwd), File("etc/group", Group))
}

// BusyboxTar is BusyboxRootfs as an uncompressed tar.
func BusyboxTar(t testing.TB) []byte {
	t.Helper()
	return Tar(t, BusyboxRootfs(t)...)
}
