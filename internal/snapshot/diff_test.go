package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/layer"
)

// change is one file operation made in a mounted snapshot.
type change func(root string) error

func put(p, body string) change {
	return func(r string) error {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(r, p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r, p), []byte(body), 0o644)
	}
}
func del(p string) change { return func(r string) error { return os.RemoveAll(filepath.Join(r, p)) } }
func mkdir(p string) change {
	return func(r string) error { return os.Mkdir(filepath.Join(r, p), 0o755) }
}
func link(old, p string) change {
	return func(r string) error { return os.Link(filepath.Join(r, old), filepath.Join(r, p)) }
}
func symlink(to, p string) change {
	return func(r string) error { return os.Symlink(to, filepath.Join(r, p)) }
}
func chmod(p string, m os.FileMode) change {
	return func(r string) error { return os.Chmod(filepath.Join(r, p), m) }
}
func chown(p string, uid, gid int) change {
	return func(r string) error { return os.Lchown(filepath.Join(r, p), uid, gid) }
}
func setxattr(p, k, v string) change {
	return func(r string) error { return unix.Lsetxattr(filepath.Join(r, p), k, []byte(v), 0) }
}

// diffParents are the layers the changes are made on: the whiteout
// layers (so overlay's lower dirs hold whiteouts and an opaque dir) and
// one more with files to link, replace and change.
var diffParents = append(append([][]byte{}, whiteoutLayers...),
	mkTar(dir("bin/"), reg("bin/tool", "v1"), reg("bin/su", "su"), dir("lib/"), reg("lib/libx.so", "ELF"),
		ent{name: "bin/sh", link: "tool", typ: tar.TypeSymlink, mode: 0o777}))

// diffCases are the same changes made in each driver's snapshot; want
// lists entries their layer must have.
var diffCases = []struct {
	name    string
	changes []change
	want    []string
}{
	{"Add", []change{put("srv/new", "n"), mkdir("srv/empty"), put("bin/added", "a")},
		[]string{"srv/", "srv/new", "srv/empty/", "bin/", "bin/added"}},
	{"Modify", []change{put("etc/keep", "k2, longer"), put("opq/new", "n2")},
		[]string{"etc/", "etc/keep", "opq/", "opq/new"}},
	{"Delete", []change{del("etc/keep"), del("opq/new"), del("d"), del("lib")},
		[]string{"etc/.wh.keep", "opq/.wh.new", ".wh.d", ".wh.lib"}},
	{"OpaqueDir", []change{del("bin"), mkdir("bin"), put("bin/only", "o"), del("opq"), mkdir("opq")},
		[]string{"bin/", "bin/only", "bin/.wh.tool", "bin/.wh.su", "bin/.wh.sh", "opq/", "opq/.wh.new"}},
	{"HardLinks", []change{put("h/one", "shared"), link("h/one", "h/two"), link("h/one", "etc/three")},
		[]string{"h/one", "h/two", "etc/three"}},
	{"Symlinks", []change{symlink("../bin/tool", "lib/tool"), del("bin/sh"), symlink("su", "bin/sh"), del("d"), symlink("/etc", "d")},
		[]string{"lib/tool", "bin/sh", "d"}},
	{"Xattrs", []change{setxattr("etc/keep", "user.test", "1"), put("x", "x"), setxattr("x", "user.other", "2")},
		[]string{"etc/keep", "x"}},
	{"ModeOwner", []change{chmod("bin/su", 0o4755), chown("lib/libx.so", 1000, 50), chmod("lib", 0o700), chown("bin/sh", 7, 7)},
		[]string{"bin/su", "lib/", "lib/libx.so", "bin/sh"}},
}

// driverDiff makes the changes in an active snapshot of driver on
// diffParents and returns the layer written from it, and its changes. The
// layer written once it is committed must be the same bytes.
func driverDiff(t *testing.T, driver string, changes []change, opts layer.DiffOptions) ([]byte, []layer.Change) {
	sn, err := Open(t.TempDir(), driver)
	if err != nil {
		t.Fatal(err)
	}
	prepareChanged(t, sn, "work", diffParents, changes)
	var active, committed bytes.Buffer
	if err := sn.WriteDiff(&active, "work", opts); err != nil {
		t.Fatal(err)
	}
	cs, err := sn.Changes("work", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit("top", "work"); err != nil {
		t.Fatal(err)
	}
	if err := sn.WriteDiff(&committed, "top", opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(active.Bytes(), committed.Bytes()) {
		t.Errorf("%s: the committed snapshot's diff differs from the active one's", driver)
	}
	return active.Bytes(), cs
}

// prepareChanged makes the active snapshot key on the layers parents and
// makes the changes in it, mounted.
func prepareChanged(t *testing.T, sn Snapshotter, key string, parents [][]byte, changes []change) {
	t.Helper()
	b := blobs{}
	parent, err := Unpack(context.Background(), sn, b.open, b.add(parents...))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sn.Prepare(key, parent)
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) {
		for i, c := range changes {
			if err := c(d); err != nil {
				t.Fatalf("change %d: %v", i, err)
			}
		}
	})
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

// TestDriversWriteSameDiff: for the same changes every driver writes the
// same layer, byte for byte, and lists the same changes, so a layer's
// digest does not depend on the driver that made it.
func TestDriversWriteSameDiff(t *testing.T) {
	needRoot(t)
	// The files' own times differ between the drivers' snapshots: clamp
	// them, as SOURCE_DATE_EPOCH does.
	ts := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := layer.DiffOptions{Timestamp: &ts}
	for _, c := range diffCases {
		t.Run(c.name, func(t *testing.T) {
			tars := map[string][]byte{}
			changes := map[string][]layer.Change{}
			for _, d := range Drivers {
				tars[d], changes[d] = driverDiff(t, d, c.changes, opts)
				names := tarNames(t, tars[d])
				for _, w := range c.want {
					if !slices.Contains(names, w) {
						t.Errorf("%s: layer has no %s: %q", d, w, names)
					}
				}
			}
			first := Drivers[0]
			for _, d := range Drivers[1:] {
				if !bytes.Equal(tars[first], tars[d]) {
					t.Errorf("%s and %s write different layers:\n%s: %q\n%s: %q", first, d,
						first, tarNames(t, tars[first]), d, tarNames(t, tars[d]))
				}
				if !reflect.DeepEqual(changes[first], changes[d]) {
					t.Errorf("%s and %s list different changes:\n%s: %v\n%s: %v", first, d, first, changes[first], d, changes[d])
				}
			}
		})
	}
}

func testRemoveStubs(t *testing.T, sn Snapshotter) {
	// Mount points a runtime makes, over a file the parent has
	// (etc/keep), one it never had (proc/) and one it deleted (etc/gone).
	prepareChanged(t, sn, "work", whiteoutLayers,
		[]change{mkdir("proc"), put("etc/gone", ""), put("etc/keep", ""), put("work/out", "o"),
			// and the directories made for them: run/ and run/buildkit/
			// only held the stub; mnt/ also holds what the command wrote.
			mkdir("run"), mkdir("run/buildkit"), put("run/buildkit/ssh_agent.0", ""),
			mkdir("mnt"), mkdir("mnt/in"), mkdir("mnt/in/a"), put("mnt/out", "o")})
	if err := sn.RemoveStubs("work", []string{"/proc", "/etc/gone", "/etc/keep", "/absent", "/run/buildkit/ssh_agent.0", "/mnt/in/a"}); err != nil {
		t.Fatal(err)
	}
	cs, err := sn.Changes("work", layer.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.String())
	}
	want := []string{"C /etc", "C /etc/keep", "A /mnt", "A /mnt/out", "A /work", "A /work/out"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes after RemoveStubs = %q, want %q", got, want)
	}
	if err := sn.Commit("top", "work"); err != nil {
		t.Fatal(err)
	}
	if err := sn.RemoveStubs("top", []string{"/etc/keep"}); err == nil {
		t.Error("RemoveStubs changed a committed snapshot")
	}
}

func testCollect(t *testing.T, sn Snapshotter) {
	b := blobs{}
	ls := b.add(whiteoutLayers...)
	top, err := Unpack(context.Background(), sn, b.open, ls)
	if err != nil {
		t.Fatal(err)
	}
	bottom, err := Unpack(context.Background(), sn, b.open, ls[:1])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ key, parent string }{{"ctr", top}, {"orphan", bottom}} {
		if _, err := sn.Prepare(k.key, k.parent); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sn.View("view", top); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lonely", "flat:" + top, "flat:gone"} {
		if _, err := sn.Prepare("new", ""); err != nil {
			t.Fatal(err)
		}
		if err := sn.Commit(name, "new"); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := Collect(sn, []string{"ctr"})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{"flat:gone", "lonely", "orphan", "view"}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	var left []string
	sn.Walk(func(in Info) error { left = append(left, in.Name); return nil })
	want := []string{"ctr", "flat:" + top, bottom, top}
	slices.Sort(want)
	if !reflect.DeepEqual(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}
