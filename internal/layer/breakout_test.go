package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// breakoutCase is a hostile layer: applying it must leave everything
// outside the root as it was, and fail or not as said.
type breakoutCase struct {
	name    string
	ents    []testutil.Entry
	wantErr bool
	root    bool                            // needs root (devices, chown)
	check   func(t *testing.T, root string) // what must hold inside the root
}

// Inside the test parent dir: root/ (the layer's root), sentinel (a file),
// sentdir/inner (a directory with a file). Host paths are checked too.
var breakoutCases = []breakoutCase{
	{name: "dotdot name", ents: []testutil.Entry{testutil.File("../sentinel", "pwned")}, wantErr: true},
	{name: "dotdot in the middle", ents: []testutil.Entry{testutil.File("a/../../sentinel", "pwned")}, wantErr: true},
	{name: "dotdot after dir", ents: []testutil.Entry{testutil.Dir("a/"), testutil.File("a/../../sentdir/inner", "pwned")}, wantErr: true},
	{name: "absolute path", ents: []testutil.Entry{testutil.File("/abs", "x")}, check: exists("abs")},
	{name: "absolute path with dots", ents: []testutil.Entry{testutil.File("/./etc//x", "x")}, check: exists("etc/x")},
	{name: "symlink to / then file through it",
		ents:  []testutil.Entry{testutil.Symlink("l", "/"), testutil.File("l/escaped", "x")},
		check: exists("escaped")},
	{name: "symlink to ../.. then write through",
		ents:  []testutil.Entry{testutil.Symlink("l", "../.."), testutil.File("l/sentinel", "pwned")},
		check: exists("sentinel")},
	{name: "symlink to parent dir then write through",
		ents:  []testutil.Entry{testutil.Symlink("l", "../sentdir"), testutil.File("l/inner", "pwned")},
		check: exists("sentdir/inner")},
	{name: "chained symlinks out",
		ents:  []testutil.Entry{testutil.Symlink("a", "b"), testutil.Symlink("b", "c/../../../.."), testutil.File("a/sentinel", "pwned")},
		check: exists("sentinel")},
	{name: "symlink loop",
		ents: []testutil.Entry{testutil.Symlink("a", "b"), testutil.Symlink("b", "a"), testutil.File("a/x", "x")}, wantErr: true},
	{name: "file replaces a symlink pointing out",
		ents:  []testutil.Entry{testutil.Symlink("l", "../sentinel"), testutil.File("l", "pwned")},
		check: isType("l", unix.S_IFREG)},
	{name: "dir replaces absolute symlink",
		ents:  []testutil.Entry{testutil.Symlink("etc", "/etc"), testutil.Dir("etc/"), testutil.File("etc/passwd", "root::0:0::/:/bin/sh\n")},
		check: isType("etc", unix.S_IFDIR)},
	{name: "hardlink to /etc/passwd",
		ents: []testutil.Entry{testutil.Hardlink("pw", "/etc/passwd")}, wantErr: true},
	{name: "hardlink with dotdot",
		ents: []testutil.Entry{testutil.Hardlink("pw", "../sentinel")}, wantErr: true},
	{name: "hardlink through a symlink to /etc",
		ents: []testutil.Entry{testutil.Symlink("l", "/etc"), testutil.Hardlink("pw", "l/passwd")}, wantErr: true},
	{name: "hardlink through a symlink to the parent",
		ents: []testutil.Entry{testutil.Symlink("l", "../"), testutil.Hardlink("pw", "l/sentinel")}, wantErr: true},
	{name: "hardlink to a symlink pointing out links the symlink",
		ents:  []testutil.Entry{testutil.Symlink("l", "../sentinel"), testutil.Hardlink("h", "l"), testutil.File("l", "pwned")},
		check: isType("h", unix.S_IFLNK)},
	{name: "hardlink to the root", ents: []testutil.Entry{testutil.Hardlink("h", "/")}, wantErr: true},
	{name: "symlink named .", ents: []testutil.Entry{testutil.Symlink(".", "/"), testutil.File("x", "x")}, check: exists("x")},
	{name: "symlink named /", ents: []testutil.Entry{testutil.Symlink("/", "../"), testutil.File("x", "x")}, check: exists("x")},
	{name: "symlink named ./ with file after", ents: []testutil.Entry{testutil.Symlink("./", "/etc"), testutil.File("passwd", "x")},
		check: exists("passwd")},
	{name: "whiteout whose parent is a symlink pointing out",
		ents: []testutil.Entry{testutil.Symlink("l", "../"), testutil.File("l/.wh.sentinel", "")}},
	{name: "whiteout of a dir through a symlink to the parent",
		ents: []testutil.Entry{testutil.Symlink("l", "/.."), testutil.File("l/.wh.sentdir", "")}},
	{name: "opaque marker through a symlink pointing out",
		ents: []testutil.Entry{testutil.Symlink("l", ".."), testutil.File("l/.wh..wh..opq", "")}},
	{name: "bare .wh.", ents: []testutil.Entry{testutil.File(".wh.", "")}, wantErr: true},
	{name: "bare .wh. in a dir", ents: []testutil.Entry{testutil.Dir("d/"), testutil.File("d/.wh.", "")}, wantErr: true},
	{name: ".wh...", ents: []testutil.Entry{testutil.Dir("d/"), testutil.File("d/.wh...", "")}, wantErr: true},
	{name: ".wh..", ents: []testutil.Entry{testutil.File(".wh..", "")}, wantErr: true},
	{name: "device node through a symlink", root: true,
		ents:  []testutil.Entry{testutil.Symlink("l", "/dev"), {Name: "l/strata-null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1}},
		check: isType("dev/strata-null", unix.S_IFCHR)},
	{name: "block device replaces symlink out", root: true,
		ents:  []testutil.Entry{testutil.Symlink("disk", "../sentinel"), {Name: "disk", Type: tar.TypeBlock, Mode: 0o600, Devmajor: 8}},
		check: isType("disk", unix.S_IFBLK)},
	{name: "fifo through dotdot", ents: []testutil.Entry{{Name: "../fifo", Type: tar.TypeFifo, Mode: 0o600}}, wantErr: true},
	{name: "setuid file written through a symlink", root: true,
		ents: []testutil.Entry{testutil.Symlink("bin", "../sentdir"), {Name: "bin/inner", Type: tar.TypeReg, Mode: 0o4755, Body: "#!/bin/sh\n"}},
		check: func(t *testing.T, root string) {
			fi, err := os.Lstat(filepath.Join(root, "sentdir/inner"))
			if err != nil || fi.Mode()&os.ModeSetuid == 0 {
				t.Errorf("setuid file not inside the root: %v %v", fi, err)
			}
		}},
	{name: "setuid file replacing a symlink to a file outside", root: true,
		ents:  []testutil.Entry{testutil.Symlink("su", "../sentinel"), {Name: "su", Type: tar.TypeReg, Mode: 0o4755, Body: "x"}},
		check: isType("su", unix.S_IFREG)},
	{name: "directory replaced by symlink then written into",
		ents:  []testutil.Entry{testutil.Dir("d/"), testutil.Symlink("d", "../.."), testutil.File("d/sentinel", "pwned")},
		check: exists("sentinel")},
	{name: "owner and mode on a symlink pointing out", root: true,
		ents: []testutil.Entry{{Name: "l", Type: tar.TypeSymlink, Link: "../sentinel", Mode: 0o777, UID: 4242, GID: 4242}}},
	{name: "xattr on a symlink pointing out",
		ents: []testutil.Entry{{Name: "l", Type: tar.TypeSymlink, Link: "../sentinel", Mode: 0o777,
			Xattrs: map[string]string{"user.pwned": "1", "trusted.pwned": "1"}}}},
	{name: "overlay xattr from the tar is dropped", root: true,
		ents: []testutil.Entry{{Name: "d/", Type: tar.TypeDir, Mode: 0o755,
			Xattrs: map[string]string{"trusted.overlay.redirect": "/../sentdir"}}},
		check: func(t *testing.T, root string) {
			if x, _ := listXattrs(filepath.Join(root, "d")); len(x) != 0 {
				t.Errorf("xattrs kept: %v", x)
			}
		}},
	{name: "file under a regular file", ents: []testutil.Entry{testutil.File("f", "x"), testutil.File("f/x", "x")}, wantErr: true},
	{name: "long symlink chain of dotdots",
		ents:  []testutil.Entry{testutil.Dir("a/b/c/"), testutil.Symlink("a/b/c/l", "../../../../../../../../sentdir"), testutil.File("a/b/c/l/inner", "pwned")},
		check: exists("sentdir/inner")},
}

func exists(rel string) func(*testing.T, string) {
	return func(t *testing.T, root string) {
		if _, err := os.Lstat(filepath.Join(root, rel)); err != nil {
			t.Errorf("%s not inside the root: %v", rel, err)
		}
	}
}

func isType(rel string, typ uint32) func(*testing.T, string) {
	return func(t *testing.T, root string) {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, rel), &st); err != nil || st.Mode&unix.S_IFMT != typ {
			t.Errorf("%s: want type %o, got %o (%v)", rel, typ, st.Mode&unix.S_IFMT, err)
		}
	}
}

// hostPaths are checked not to change: the targets of the classic
// breakouts when they aim at the host.
var hostPaths = []string{"/etc/passwd", "/etc", "/dev"}

func TestBreakouts(t *testing.T) {
	for _, tc := range breakoutCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("needs root")
			}
			parent, root := breakoutParent(t)
			before := outside(t, parent, hostPaths)
			_, err := Apply(context.Background(), root, bytes.NewReader(testutil.Tar(t, tc.ents...)), ApplyOptions{})
			t.Logf("Apply: %v", err)
			if (err != nil) != tc.wantErr {
				t.Errorf("Apply error = %v, want error %v", err, tc.wantErr)
			}
			if d := diffSnapshots(before, outside(t, parent, hostPaths)); len(d) > 0 {
				t.Errorf("outside the root changed:\n%v", d)
			}
			if _, err := os.Lstat("/dev/strata-null"); err == nil {
				t.Errorf("/dev/strata-null created on the host")
			}
			if tc.check != nil && err == nil {
				tc.check(t, root)
			}
		})
	}
}

// breakoutParent makes parent/{root/,sentinel,sentdir/inner}.
func breakoutParent(t testing.TB) (parent, root string) {
	return breakoutParentIn(t, "")
}

// breakoutParentIn makes the parent dir in base ("" for the test's).
func breakoutParentIn(t testing.TB, base string) (parent, root string) {
	if base == "" {
		parent = t.TempDir()
	} else {
		var err error
		if parent, err = os.MkdirTemp(base, "p"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(parent) })
	}
	root = filepath.Join(parent, "root")
	for _, d := range []string{root, filepath.Join(parent, "sentdir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"sentinel", "sentdir/inner"} {
		if err := os.WriteFile(filepath.Join(parent, f), []byte("sentinel"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return parent, root
}

// outside describes everything the tests can watch outside the root.
func outside(t testing.TB, parent string, host []string) map[string]fileInfo {
	o := snapOpts{times: true, nlink: true, allXattr: true, skip: func(rel string) bool { return rel == "/root" }}
	s := snapshot(t, parent, o)
	for _, p := range host {
		s["host:"+p] = describe(t, p, o)
	}
	return s
}
