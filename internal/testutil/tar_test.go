package testutil

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTar reads back what Tar writes: the type, mode and size each kind of
// entry gets when left zero, and every field set explicitly.
func TestTar(t *testing.T) {
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		entry        Entry
		typ          byte
		mode         int64
		size         int64
		link, name   string
		uid, gid     int
		mtime        time.Time
		xattr, major bool
	}{
		{entry: Entry{Name: "d/"}, typ: tar.TypeDir, mode: 0o755, name: "d/", mtime: ModTime},
		{entry: Entry{Name: "f", Body: "abc"}, typ: tar.TypeReg, mode: 0o644, size: 3, name: "f", mtime: ModTime},
		{entry: Entry{Name: "l", Link: "f"}, typ: tar.TypeSymlink, mode: 0o644, link: "f", name: "l", mtime: ModTime},
		{entry: File("f2", "xy"), typ: tar.TypeReg, mode: 0o644, size: 2, name: "f2", mtime: ModTime},
		{entry: Dir("d2/"), typ: tar.TypeDir, mode: 0o755, name: "d2/", mtime: ModTime},
		{entry: Symlink("s", "/bin/busybox"), typ: tar.TypeSymlink, mode: 0o777, link: "/bin/busybox", name: "s", mtime: ModTime},
		{entry: Hardlink("h", "f"), typ: tar.TypeLink, mode: 0o644, link: "f", name: "h", mtime: ModTime},
		{entry: Whiteout("a/b/gone"), typ: tar.TypeReg, mode: 0o644, name: "a/b/.wh.gone", mtime: ModTime},
		{entry: Whiteout("top"), typ: tar.TypeReg, mode: 0o644, name: ".wh.top", mtime: ModTime},
		{entry: Opaque("a"), typ: tar.TypeReg, mode: 0o644, name: "a/.wh..wh..opq", mtime: ModTime},
		{entry: Entry{Name: "su", Body: "x", Mode: 0o4755, UID: 7, GID: 8, ModTime: when, Xattrs: map[string]string{"user.k": "v"}},
			typ: tar.TypeReg, mode: 0o4755, size: 1, name: "su", uid: 7, gid: 8, mtime: when, xattr: true},
		{entry: Entry{Name: "null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, Body: "ignored"},
			typ: tar.TypeChar, mode: 0o666, name: "null", mtime: ModTime, major: true},
	} {
		tr := tar.NewReader(bytes.NewReader(Tar(t, tc.entry)))
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: %v", tc.entry.Name, err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name != tc.name || h.Typeflag != tc.typ || h.Mode != tc.mode || h.Size != tc.size || int64(len(body)) != tc.size ||
			h.Linkname != tc.link || h.Uid != tc.uid || h.Gid != tc.gid || !h.ModTime.Equal(tc.mtime) {
			t.Errorf("%s: got %+v", tc.entry.Name, h)
		}
		if tc.xattr && h.PAXRecords["SCHILY.xattr.user.k"] != "v" {
			t.Errorf("%s: xattr not written: %v", tc.entry.Name, h.PAXRecords)
		}
		if tc.major && (h.Devmajor != 1 || h.Devminor != 3) {
			t.Errorf("%s: device %d:%d", tc.entry.Name, h.Devmajor, h.Devminor)
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Errorf("%s: more than one entry (%v)", tc.entry.Name, err)
		}
	}
}

// TestTarIsStable: the same entries make the same bytes, which the tests
// that compare image IDs with golden files rely on.
func TestTarIsStable(t *testing.T) {
	a := Tar(t, Dir("a/"), File("a/b", "b"), Symlink("c", "a/b"))
	b := Tar(t, Dir("a/"), File("a/b", "b"), Symlink("c", "a/b"))
	if !bytes.Equal(a, b) {
		t.Fatal("two runs of Tar differ")
	}
}

func TestBusyboxRootfs(t *testing.T) {
	entries := BusyboxRootfs(t)
	byName := map[string]Entry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	bin, err := os.ReadFile(Busybox)
	if err != nil {
		t.Fatal(err)
	}
	if e := byName["bin/busybox"]; e.Body != string(bin) || e.Mode != 0o755 {
		t.Errorf("bin/busybox: mode %o, %d bytes", e.Mode, len(e.Body))
	}
	if e := byName["bin/sh"]; e.Link != "/bin/busybox" {
		t.Errorf("bin/sh: %+v", e)
	}
	if byName["tmp/"].Mode != 0o1777 || byName["etc/passwd"].Body != Passwd || byName["etc/group"].Body != Group {
		t.Errorf("tmp, passwd or group wrong")
	}
	// Every entry's parent directory comes before it, as a tar must have
	// it for tools that do not create parents.
	seen := map[string]bool{".": true}
	for _, e := range entries {
		if !seen[filepath.Dir(filepath.Clean(e.Name))] {
			t.Errorf("%s before its directory", e.Name)
		}
		seen[filepath.Clean(e.Name)] = true
	}
}

func TestGolden(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.golden")
	os.WriteFile(p, []byte("same\n"), 0o644)
	Golden(t, p, "same\n")
	var ft fakeT
	Golden(&ft, p, "other\n")
	if !ft.failed {
		t.Error("a different output did not fail")
	}
	Golden(&ft, filepath.Join(t.TempDir(), "missing.golden"), "x")
	if !ft.fatal {
		t.Error("a missing golden file did not fail")
	}
}

// fakeT records failures of the helper under test.
type fakeT struct {
	testing.TB
	failed, fatal bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.fatal = true }
func (f *fakeT) Fatal(...any)          { f.fatal = true }
