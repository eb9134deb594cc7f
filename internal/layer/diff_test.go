package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// op is a file operation done the same way in an overlay merged dir and
// in a copy of the lower tree.
type op func(root string) error

func write(p, body string, mode os.FileMode) op {
	return func(r string) error {
		if err := os.WriteFile(filepath.Join(r, p), []byte(body), mode); err != nil {
			return err
		}
		return os.Chmod(filepath.Join(r, p), mode) // past the umask
	}
}
func chmod(p string, m os.FileMode) op {
	return func(r string) error { return os.Chmod(filepath.Join(r, p), m) }
}
func chown(p string, uid, gid int) op {
	return func(r string) error { return os.Lchown(filepath.Join(r, p), uid, gid) }
}
func rm(p string) op { return func(r string) error { return os.RemoveAll(filepath.Join(r, p)) } }
func mkdirs(p string) op {
	return func(r string) error { return os.MkdirAll(filepath.Join(r, p), 0o755) }
}
func ln(to, p string) op {
	return func(r string) error { return os.Link(filepath.Join(r, to), filepath.Join(r, p)) }
}
func lns(to, p string) op { return func(r string) error { return os.Symlink(to, filepath.Join(r, p)) } }
func mv(a, b string) op {
	return func(r string) error { return os.Rename(filepath.Join(r, a), filepath.Join(r, b)) }
}
func mknod(p string, mode uint32, dev int) op {
	return func(r string) error { return unix.Mknod(filepath.Join(r, p), mode, dev) }
}
func setxattr(p, k, v string) op {
	return func(r string) error { return unix.Lsetxattr(filepath.Join(r, p), k, []byte(v), 0) }
}

// baseLayer is the lower tree of the diff tests.
func baseLayer(t testing.TB) []byte {
	home := testutil.Dir("home/user/")
	home.UID, home.GID = 1000, 1000
	tool := testutil.File("usr/bin/tool", "tool v1")
	tool.Mode = 0o755
	return testutil.Tar(t,
		testutil.Dir("etc/"), testutil.File("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), testutil.File("etc/hosts", "127.0.0.1 localhost\n"),
		testutil.Dir("etc/conf.d/"), testutil.File("etc/conf.d/a.conf", "a=1\n"),
		testutil.Dir("usr/"), testutil.Dir("usr/bin/"), tool, testutil.File("usr/bin/su", "su"), testutil.Dir("usr/lib/"), testutil.File("usr/lib/libx.so", "ELF"),
		testutil.Symlink("lib", "usr/lib"),
		testutil.Dir("opt/"), testutil.Dir("opt/app/"), testutil.Dir("opt/app/bin/"), testutil.File("opt/app/bin/run", "run"), testutil.File("opt/app/data", "data"),
		testutil.Dir("var/"), testutil.Dir("var/log/"), testutil.File("var/log/old.log", "old"),
		testutil.Dir("home/"), home, testutil.Dir("srv/"),
		testutil.Dir("d2/"), testutil.File("d2/x", "x"), testutil.Dir("d2/sub/"), testutil.File("d2/sub/y", "y"),
		testutil.Dir("rd/"), testutil.File("rd/gone", "gone"), testutil.File("rd/keep", "keep"), testutil.Dir("rd/old/"), testutil.File("rd/old/z", "z"),
		testutil.File("f", "a file"),
	)
}

var excluded = []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/dev/shm"}

// plainOps change nothing that overlayfs would record as an opaque dir.
var plainOps = []op{
	write("etc/new.conf", "new", 0o600),
	write("usr/bin/tool", "tool v2, longer", 0o755),
	chmod("usr/bin/su", 0o4755),
	write("home/user/.profile", "PS1=$ ", 0o644), chown("home/user/.profile", 1000, 1000),
	chown("usr/lib/libx.so", 0, 50),
	rm("var/log/old.log"),
	rm("opt/app"),
	mkdirs("srv/data/x"), write("srv/data/x/file", "deep", 0o644),
	lns("../bin/tool", "usr/lib/link"),
	rm("lib"), lns("/usr/lib64", "lib"),
	write("srv/h1", "linked", 0o644), ln("srv/h1", "srv/h2"),
	setxattr("etc/passwd", "user.test", "1"),
	mv("etc/conf.d/a.conf", "etc/conf.d/b.conf"),
	rm("d2"), write("d2", "now a file", 0o644),
	write("etc/hosts", "127.0.0.1 container\n", 0o644),
	mknod("srv/fifo", unix.S_IFIFO|0o600, 0), mknod("srv/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))),
	write("srv/"+strings.Repeat("long-name-", 12), "long", 0o644),
	chmod("usr/lib", 0o700),
}

// opaqueOps make overlayfs mark directories opaque.
var opaqueOps = []op{
	rm("rd"), mkdirs("rd"), write("rd/new", "new", 0o644), write("rd/keep", "kept", 0o644),
	rm("f"), mkdirs("f"), write("f/inside", "in", 0o644),
}

func TestDiffOverlayAgainstTrees(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ops       []op
		identical bool // both producers must write the same bytes
	}{
		{"plain", plainOps, true},
		{"opaque", opaqueOps, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testDiffPair(t, tc.ops, tc.identical) })
	}
}

func testDiffPair(t *testing.T, ops []op, identical bool) {
	base := baseLayer(t)
	tmp := t.TempDir()
	lower, upper, copyDir := applied(t, tmp, "lower", base), mkdir(t, tmp, "upper"), applied(t, tmp, "copy", base)
	merged := mountOverlay(t, tmp, []string{lower}, upper)
	for i, o := range ops {
		if err := o(merged); err != nil {
			t.Fatalf("op %d on overlay: %v", i, err)
		}
		if err := o(copyDir); err != nil {
			t.Fatalf("op %d on copy: %v", i, err)
		}
	}
	skip := func(rel string) bool { return newExcluder(excluded).match(rel) }
	want := snapshot(t, merged, snapOpts{skip: skip})

	ts := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := DiffOptions{Timestamp: &ts, Exclude: excluded}
	var fromUpper, fromTrees bytes.Buffer
	if err := WriteDiffFromUpper(&fromUpper, upper, []string{lower}, opts); err != nil {
		t.Fatal(err)
	}
	if err := WriteDiffFromTrees(&fromTrees, lower, copyDir, opts); err != nil {
		t.Fatal(err)
	}
	un, tn := tarNames(t, fromUpper.Bytes()), tarNames(t, fromTrees.Bytes())
	t.Logf("from upper: %q", un)
	t.Logf("from trees: %q", tn)
	if identical && !bytes.Equal(fromUpper.Bytes(), fromTrees.Bytes()) {
		t.Errorf("the producers differ:\nupper: %q\ntrees: %q", un, tn)
	}
	if containsSuffix(un, "/"+opaqueMarker) {
		t.Errorf("opaque marker from the upper dir (want a whiteout per hidden child): %q", un)
	}
	for _, n := range append(un, tn...) {
		if strings.Contains(n, "etc/hosts") {
			t.Errorf("excluded path written: %s", n)
		}
	}

	cu, err := ChangesFromUpper(upper, []string{lower}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := ChangesFromTrees(lower, copyDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("changes: %v", cu)
	if !reflect.DeepEqual(cu, ct) {
		t.Errorf("changes differ:\nupper: %v\ntrees: %v", cu, ct)
	}

	// Either layer applied on the lower tree gives what the container saw.
	for name, layer := range map[string][]byte{"upper": fromUpper.Bytes(), "trees": fromTrees.Bytes()} {
		got := applied(t, tmp, "rt-"+name, base, layer)
		if d := diffSnapshots(want, snapshot(t, got, snapOpts{skip: skip})); len(d) > 0 {
			t.Errorf("layer from %s applied on the lower tree:\n%s", name, strings.Join(d, "\n"))
		}
	}
	// Stored in overlay form, the layer works as an overlay lowerdir.
	snap := mkdir(t, tmp, "snap")
	if _, err := Apply(context.Background(), snap, bytes.NewReader(fromUpper.Bytes()), ApplyOptions{OverlayWhiteouts: true}); err != nil {
		t.Fatal(err)
	}
	view := mountOverlay(t, tmp, []string{snap, lower}, "")
	if d := diffSnapshots(want, snapshot(t, view, snapOpts{skip: skip})); len(d) > 0 {
		t.Errorf("layer in overlay form as a lowerdir:\n%s", strings.Join(d, "\n"))
	}
	// And the upper of a later container diffs against the stack.
	if cs, err := ChangesFromUpper(mkdir(t, tmp, "empty"), []string{snap, lower}, opts); err != nil || len(cs) != 0 {
		t.Errorf("empty upper: %v %v", cs, err)
	}
}

func containsSuffix(names []string, suffix string) bool {
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

func mkdir(t testing.TB, parent, name string) string {
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// applied makes parent/name out of the layers.
func applied(t testing.TB, parent, name string, layers ...[]byte) string {
	p := mkdir(t, parent, name)
	for _, l := range layers {
		if _, err := Apply(context.Background(), p, bytes.NewReader(l), ApplyOptions{}); err != nil {
			t.Fatalf("apply into %s: %v", name, err)
		}
	}
	return p
}

// mountOverlay mounts the lowers (topmost first) with upper, read-only
// when upper is "", as strata's snapshots do: no redirect_dir, no
// metacopy, no index. The test is skipped where overlayfs cannot mount.
func mountOverlay(t testing.TB, tmp string, lowers []string, upper string) string {
	t.Helper()
	m, err := os.MkdirTemp(tmp, "merged")
	if err != nil {
		t.Fatal(err)
	}
	data := "lowerdir=" + strings.Join(lowers, ":") + ",redirect_dir=off,metacopy=off,index=off"
	if upper != "" {
		work, err := os.MkdirTemp(tmp, "work")
		if err != nil {
			t.Fatal(err)
		}
		data += ",upperdir=" + upper + ",workdir=" + work
	}
	if err := unix.Mount("overlay", m, "overlay", 0, data); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENODEV) {
			t.Skipf("cannot mount overlayfs: %v", err)
		}
		t.Fatalf("mount overlay %s: %v", data, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(m, 0); err != nil {
			t.Errorf("unmount %s: %v", m, err)
		}
	})
	return m
}

func TestWriteTreeDeterministic(t *testing.T) {
	tmp := t.TempDir()
	base := baseLayer(t)
	a, b := applied(t, tmp, "a", base), applied(t, tmp, "b", base)
	for _, r := range []string{a, b} {
		if err := ln("etc/passwd", "etc/passwd-")(r); err != nil {
			t.Fatal(err)
		}
	}
	var ta, tb bytes.Buffer
	if err := WriteTree(&ta, a, DiffOptions{Exclude: []string{"/opt"}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteTree(&tb, b, DiffOptions{Exclude: []string{"/opt"}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ta.Bytes(), tb.Bytes()) {
		t.Fatalf("same trees, different tars")
	}
	names := tarNames(t, ta.Bytes())
	for i := 1; i < len(names); i++ {
		if names[i-1][2:] >= names[i][2:] {
			t.Errorf("not sorted: %s before %s", names[i-1], names[i])
		}
	}
	if !containsSuffix(names, "etc/passwd- -> etc/passwd") {
		t.Errorf("hard link not kept: %q", names)
	}
	tr := tar.NewReader(bytes.NewReader(ta.Bytes()))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(hdr.Name, "opt") {
			t.Errorf("excluded %s written", hdr.Name)
		}
		if hdr.Uname != "" || hdr.Gname != "" || !hdr.AccessTime.IsZero() {
			t.Errorf("%s: names or atime written: %+v", hdr.Name, hdr)
		}
		if hdr.Name == "home/user/" && (hdr.Uid != 1000 || hdr.Gid != 1000) {
			t.Errorf("owner lost: %d:%d", hdr.Uid, hdr.Gid)
		}
	}
	// Round trip: the tree applied from the tar is the tree.
	got := applied(t, tmp, "c", ta.Bytes())
	want := snapshot(t, a, snapOpts{times: true, skip: func(rel string) bool { return strings.HasPrefix(rel, "/opt") }})
	if d := diffSnapshots(want, snapshot(t, got, snapOpts{times: true})); len(d) > 0 {
		t.Errorf("round trip:\n%s", strings.Join(d, "\n"))
	}
}

// A command can write names that a layer may not hold (".wh." alone would
// whiteout its own directory): the diff writers refuse them as they
// write, as ingest refuses them in a tar that arrives.
func TestDiffWritersRefuseBadNames(t *testing.T) {
	for _, name := range []string{".wh.", ".wh..", ".wh..."} {
		t.Run(name, func(t *testing.T) {
			lower, upper := t.TempDir(), t.TempDir()
			if err := os.MkdirAll(filepath.Join(upper, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(upper, "d", name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			writers := map[string]func() error{
				"upper": func() error { return WriteDiffFromUpper(io.Discard, upper, []string{lower}, DiffOptions{}) },
				"trees": func() error { return WriteDiffFromTrees(io.Discard, lower, upper, DiffOptions{}) },
				"tree":  func() error { return WriteTree(io.Discard, upper, DiffOptions{}) },
			}
			for w, write := range writers {
				if err := write(); !errors.Is(err, ErrInvalidLayer) || !strings.Contains(err.Error(), "d/"+name) {
					t.Errorf("%s: got %v, want an invalid layer naming d/%s", w, err, name)
				}
			}
		})
	}
}
