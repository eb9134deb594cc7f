package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// listTree lists root as "path type" lines, for compact expectations.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for p, fi := range snapshot(t, root, snapOpts{}) {
		if p == "/" {
			continue
		}
		kind := map[uint32]string{unix.S_IFDIR: "dir", unix.S_IFREG: "file", unix.S_IFLNK: "link",
			unix.S_IFCHR: "char", unix.S_IFIFO: "fifo", unix.S_IFBLK: "block"}[fi.Mode&unix.S_IFMT]
		out = append(out, p+" "+kind)
	}
	sort.Strings(out)
	return out
}

func TestApplySemantics(t *testing.T) {
	lower := []testutil.Entry{testutil.Dir("a/"), testutil.File("a/x", "x"), testutil.Dir("a/sub/"), testutil.File("a/sub/y", "y"), testutil.File("b", "b"), testutil.Dir("c/"), testutil.File("c/z", "z"), testutil.File("d", "d")}
	for _, tc := range []struct {
		name    string
		layer   []testutil.Entry
		overlay bool
		want    []string
	}{
		{name: "whiteout file and dir",
			layer: []testutil.Entry{testutil.File("a/.wh.x", ""), testutil.File(".wh.c", "")},
			want:  []string{"/a dir", "/a/sub dir", "/a/sub/y file", "/b file", "/d file"}},
		{name: "opaque keeps this layer's children, marker first",
			layer: []testutil.Entry{testutil.Dir("a/"), testutil.File("a/.wh..wh..opq", ""), testutil.File("a/new", "n")},
			want:  []string{"/a dir", "/a/new file", "/b file", "/c dir", "/c/z file", "/d file"}},
		{name: "opaque keeps this layer's children, marker last",
			layer: []testutil.Entry{testutil.Dir("a/"), testutil.File("a/-new", "n"), testutil.Dir("a/sub/"), testutil.File("a/sub/w", "w"), testutil.File("a/.wh..wh..opq", "")},
			want:  []string{"/a dir", "/a/-new file", "/a/sub dir", "/a/sub/w file", "/b file", "/c dir", "/c/z file", "/d file"}},
		{name: "dir replaces file, file replaces dir",
			layer: []testutil.Entry{testutil.Dir("b/"), testutil.File("b/in", "in"), testutil.File("c", "now a file")},
			want:  []string{"/a dir", "/a/sub dir", "/a/sub/y file", "/a/x file", "/b dir", "/b/in file", "/c file", "/d file"}},
		{name: "symlink replaces dir, hard link to a file of this layer",
			layer: []testutil.Entry{testutil.Symlink("a", "c"), testutil.File("n", "n"), testutil.Hardlink("e", "n")},
			want:  []string{"/a link", "/b file", "/c dir", "/c/z file", "/d file", "/e file", "/n file"}},
		{name: "whiteout of missing path and aufs metadata are no-ops",
			layer: []testutil.Entry{testutil.File("nope/.wh.x", ""), testutil.File(".wh.missing", ""), testutil.File(".wh..wh.plnk", "")},
			want:  []string{"/a dir", "/a/sub dir", "/a/sub/y file", "/a/x file", "/b file", "/c dir", "/c/z file", "/d file"}},
		// The parent directories of entries are kept open from one entry
		// to the next: a change of what a name resolves to within the
		// layer must reach the entries after it.
		{name: "dir written into, then replaced by a symlink, then written through",
			layer: []testutil.Entry{testutil.File("a/p", "p"), testutil.Symlink("a", "c"), testutil.File("a/q", "q")},
			want:  []string{"/a link", "/b file", "/c dir", "/c/q file", "/c/z file", "/d file"}},
		{name: "dir written into, then whited out, then written again",
			layer: []testutil.Entry{testutil.File("a/sub/p", "p"), testutil.File(".wh.a", ""), testutil.File("a/sub/q", "q")},
			want:  []string{"/a dir", "/a/sub dir", "/a/sub/q file", "/b file", "/c dir", "/c/z file", "/d file"}},
		{name: "dir written into, then replaced by a file, then by a dir again",
			layer: []testutil.Entry{testutil.File("c/p", "p"), testutil.File("c", "file"), testutil.Dir("c/"), testutil.File("c/q", "q")},
			want:  []string{"/a dir", "/a/sub dir", "/a/sub/y file", "/a/x file", "/b file", "/c dir", "/c/q file", "/d file"}},
		{name: "dir written into, then made opaque from a parent's marker",
			layer: []testutil.Entry{testutil.File("a/sub/p", "p"), testutil.File(".wh..wh..opq", ""), testutil.File("a/sub/q", "q")},
			want:  []string{"/a dir", "/a/sub dir", "/a/sub/p file", "/a/sub/q file"}},
		{name: "overlay whiteouts", overlay: true,
			layer: []testutil.Entry{testutil.File("a/.wh.x", ""), testutil.Dir("c/"), testutil.File("c/.wh..wh..opq", ""), testutil.File("c/n", "n"), testutil.File("gone/.wh.f", "")},
			want:  []string{"/a dir", "/a/x char", "/c dir", "/c/n file", "/gone dir", "/gone/f char"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if !tc.overlay {
				applyOK(t, root, testutil.Tar(t, lower...), ApplyOptions{})
			}
			applyOK(t, root, testutil.Tar(t, tc.layer...), ApplyOptions{OverlayWhiteouts: tc.overlay})
			if got := listTree(t, root); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.overlay && !isOpaque(filepath.Join(root, "c")) {
				t.Errorf("c not marked opaque")
			}
		})
	}
}

func applyOK(t *testing.T, root string, layer []byte, opts ApplyOptions) int64 {
	t.Helper()
	n, err := Apply(context.Background(), root, bytes.NewReader(layer), opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApplyMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	suid := testutil.Entry{Name: "bin/su", Type: tar.TypeReg, Mode: 0o4755, UID: 0, GID: 42, Body: "su!"}
	sgid := testutil.Entry{Name: "var/mail/", Type: tar.TypeDir, Mode: 0o2775, UID: 8, GID: 8}
	ro := testutil.Entry{Name: "ro/", Type: tar.TypeDir, Mode: 0o555}
	owned := testutil.Entry{Name: "ro/mine", Type: tar.TypeReg, Mode: 0o640, UID: 1000, GID: 1000, Body: "0123456789",
		Xattrs: map[string]string{"user.k": "v", "trusted.t": "1", "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}}
	tmp := testutil.Entry{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777}
	link := testutil.Entry{Name: "ro/l", Type: tar.TypeSymlink, Link: "mine", UID: 5, GID: 6, Mode: 0o777}
	null := testutil.Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}
	root := t.TempDir()
	n := applyOK(t, root, testutil.Tar(t, testutil.Dir("bin/"), suid, testutil.Dir("var/"), sgid, ro, owned, link, tmp, testutil.Dir("dev/"), null), ApplyOptions{})
	if n != 13 {
		t.Errorf("bytes written = %d, want 13", n)
	}
	for _, c := range []struct {
		path     string
		mode     uint32
		uid, gid uint32
	}{
		{"bin/su", unix.S_IFREG | 0o4755, 0, 42},
		{"var/mail", unix.S_IFDIR | 0o2775, 8, 8},
		{"ro", unix.S_IFDIR | 0o555, 0, 0},
		{"ro/mine", unix.S_IFREG | 0o640, 1000, 1000},
		{"ro/l", unix.S_IFLNK | 0o777, 5, 6},
		{"tmp", unix.S_IFDIR | 0o1777, 0, 0},
		{"dev/null", unix.S_IFCHR | 0o666, 0, 0},
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, c.path), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode != c.mode || st.Uid != c.uid || st.Gid != c.gid {
			t.Errorf("%s: mode %o %d:%d, want %o %d:%d", c.path, st.Mode, st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
		// Times are set after contents, directories after children.
		if mt := time.Unix(st.Mtim.Unix()); !mt.Equal(testutil.ModTime) {
			t.Errorf("%s: mtime %v, want %v", c.path, mt, testutil.ModTime)
		}
	}
	if st, _ := lstat(filepath.Join(root, "dev/null")); st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null rdev %x", st.Rdev)
	}
	xs, err := contentXattrs(filepath.Join(root, "ro/mine"))
	if err != nil || xs["user.k"] != "v" || xs["trusted.t"] != "1" || xs["security.capability"] == "" {
		t.Errorf("xattrs %v %v", xs, err)
	}
}

func TestApplyIgnoreOwner(t *testing.T) {
	root := t.TempDir()
	e := testutil.File("f", "x")
	e.UID, e.GID = 4321, 4321
	applyOK(t, root, testutil.Tar(t, e), ApplyOptions{IgnoreOwner: true})
	st, err := lstat(filepath.Join(root, "f"))
	if err != nil || st.Uid != uint32(os.Geteuid()) {
		t.Errorf("owner %d, want %d (%v)", st.Uid, os.Geteuid(), err)
	}
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Apply(ctx, t.TempDir(), bytes.NewReader(testutil.Tar(t, testutil.File("f", "x"))), ApplyOptions{}); err == nil {
		t.Error("canceled Apply succeeded")
	}
}

func TestWriteDiffFromUpperRefusesRedirect(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("trusted xattrs need root")
	}
	upper := t.TempDir()
	if err := os.Mkdir(filepath.Join(upper, "moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := setxattr("moved", "trusted.overlay.redirect", "/orig")(upper); err != nil {
		t.Fatal(err)
	}
	err := WriteDiffFromUpper(&bytes.Buffer{}, upper, nil, DiffOptions{})
	if err == nil || !strings.Contains(err.Error(), "redirect_dir=off") {
		t.Errorf("err = %v, want a redirect_dir error", err)
	}
}

// sparseTar is a layer with one PAX (GNU 0.1) sparse file of size bytes
// holding data at offset; archive/tar cannot write one.
func sparseTar(name string, size, offset int64, data string) []byte {
	pax := ""
	for _, kv := range [][2]string{
		{"GNU.sparse.map", fmt.Sprintf("%d,%d", offset, len(data))},
		{"GNU.sparse.numblocks", "1"},
		{"GNU.sparse.size", fmt.Sprint(size)},
	} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		pax += fmt.Sprint(n) + rec
	}
	var out []byte
	out = append(out, rawHeader("PaxHeaders/"+name, 'x', int64(len(pax)))...)
	out = append(out, pad([]byte(pax))...)
	out = append(out, rawHeader(name, '0', int64(len(data)))...)
	out = append(out, pad([]byte(data))...)
	return append(out, make([]byte, 1024)...)
}

func rawHeader(name string, typ byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], fmt.Sprintf("%011o\x00", testutil.ModTime.Unix()))
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func pad(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }

func TestApplySparse(t *testing.T) {
	root := t.TempDir()
	n := applyOK(t, root, sparseTar("sparse", 64<<20, 32<<20, "hello"), ApplyOptions{})
	if n != 64<<20 {
		t.Errorf("written %d", n)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 64<<20 || st.Blocks*512 > 1<<20 {
		t.Errorf("size %d, %d bytes on disk: want 64MiB, sparse", st.Size, st.Blocks*512)
	}
	b, _ := os.ReadFile(filepath.Join(root, "sparse"))
	if string(b[32<<20:32<<20+5]) != "hello" {
		t.Errorf("data not at its offset")
	}
	// A few bytes declaring an exabyte file: the context bounds the work.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Apply(ctx, t.TempDir(), bytes.NewReader(sparseTar("bomb", 1<<60, 0, "x")), ApplyOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sparse bomb: %v", err)
	}
}
