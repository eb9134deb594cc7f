package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// The conformance suite: every driver must pass every case.
var suite = []struct {
	name string
	fn   func(t *testing.T, sn Snapshotter)
}{
	{"PrepareCommitView", testPrepareCommitView},
	{"StatWalkRemove", testStatWalkRemove},
	{"CommitRace", testCommitRace},
	{"BadKeys", testBadKeys},
	{"UnpackWhiteouts", testUnpackWhiteouts},
	{"UnpackConcurrent", testUnpackConcurrent},
	{"UnpackWrongDiffID", testUnpackWrongDiffID},
	{"UnpackFailsMidway", testUnpackFailsMidway},
	{"UnpackCanceled", testUnpackCanceled},
	{"LowerNeverChanges", testLowerNeverChanges},
	{"Deep150", testDeep},
	{"RemoveStubs", testRemoveStubs},
	{"Collect", testCollect},
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mounts)")
	}
}

func TestConformance(t *testing.T) {
	needRoot(t)
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			for _, c := range suite {
				t.Run(c.name, func(t *testing.T) {
					sn, err := Open(t.TempDir(), driver)
					if err != nil {
						t.Fatal(err)
					}
					c.fn(t, sn)
				})
			}
		})
	}
}

// withMount mounts ms at a temp dir for fn.
func withMount(t *testing.T, ms []Mount, fn func(dir string)) {
	t.Helper()
	dir := t.TempDir()
	if err := All(ms, dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := Unmount(dir); err != nil {
			t.Error(err)
		}
	}()
	fn(dir)
}

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + errors.Unwrap(err).Error() + ">"
	}
	return string(b)
}

func testPrepareCommitView(t *testing.T, sn Snapshotter) {
	ms, err := sn.Prepare("base-active", "")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) {
		write(t, filepath.Join(d, "a"), "a1")
		write(t, filepath.Join(d, "dir/b"), "b1")
	})
	if err := sn.Commit("base", "base-active"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Stat("base-active"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key after commit: %v", err)
	}
	ms, err = sn.Prepare("child", "base")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) {
		if got := read(t, filepath.Join(d, "dir/b")); got != "b1" {
			t.Errorf("child sees dir/b = %q", got)
		}
		write(t, filepath.Join(d, "a"), "a2")
		if err := os.Remove(filepath.Join(d, "dir/b")); err != nil {
			t.Fatal(err)
		}
	})
	if err := sn.Commit("top", "child"); err != nil {
		t.Fatal(err)
	}
	ms, err = sn.View("v", "top")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) {
		if got := read(t, filepath.Join(d, "a")); got != "a2" {
			t.Errorf("view a = %q", got)
		}
		if _, err := os.Stat(filepath.Join(d, "dir/b")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("view has deleted dir/b: %v", err)
		}
		if err := os.WriteFile(filepath.Join(d, "x"), nil, 0o644); err == nil {
			t.Error("a view is writable")
		}
	})
	// The base is unchanged below its child.
	ms, err = sn.View("vb", "base")
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) {
		if got := read(t, filepath.Join(d, "a")) + read(t, filepath.Join(d, "dir/b")); got != "a1b1" {
			t.Errorf("base changed: %q", got)
		}
	})
	if _, err := sn.Mounts("top"); err == nil {
		t.Error("a committed snapshot has mounts")
	}
}

func testStatWalkRemove(t *testing.T, sn Snapshotter) {
	if _, err := sn.Stat("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat missing: %v", err)
	}
	if _, err := sn.Prepare("a", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Prepare on missing parent: %v", err)
	}
	if _, err := sn.Prepare("a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare("a", ""); !errors.Is(err, ErrExists) {
		t.Fatalf("Prepare twice: %v", err)
	}
	if err := sn.Commit("sha256:aa", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare("b", "sha256:aa"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare("c", "b"); err == nil {
		t.Fatal("Prepare on an active parent")
	}
	var got []string
	sn.Walk(func(in Info) error {
		got = append(got, fmt.Sprintf("%s %s %s", in.Name, in.Kind, in.Parent))
		return nil
	})
	want := []string{"b active sha256:aa", "sha256:aa committed "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Walk = %q, want %q", got, want)
	}
	for _, k := range []string{"b", "sha256:aa"} {
		if err := sn.Remove(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := sn.Remove("b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove twice: %v", err)
	}
}

func testCommitRace(t *testing.T, sn Snapshotter) {
	for _, k := range []string{"k1", "k2"} {
		ms, err := sn.Prepare(k, "")
		if err != nil {
			t.Fatal(err)
		}
		withMount(t, ms, func(d string) { write(t, filepath.Join(d, "who"), k) })
	}
	if err := sn.Commit("same", "k1"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit("same", "k2"); !errors.Is(err, ErrExists) {
		t.Fatalf("second commit: %v", err)
	}
	if in, err := sn.Stat("k2"); err != nil || in.Kind != KindActive {
		t.Fatalf("loser key: %+v %v", in, err)
	}
	ms, _ := sn.View("v", "same")
	withMount(t, ms, func(d string) {
		if got := read(t, filepath.Join(d, "who")); got != "k1" {
			t.Errorf("winner = %q", got)
		}
	})
}

func testBadKeys(t *testing.T, sn Snapshotter) {
	for _, k := range []string{"", "../x", "a/b", "a,b", ".hidden", "a b"} {
		if _, err := sn.Prepare(k, ""); err == nil {
			t.Errorf("Prepare(%q) accepted", k)
		}
	}
}

// --- layers ---

type ent struct {
	name, link string
	typ        byte
	mode       int64
	body       string
}

func reg(name, body string) ent { return ent{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
func dir(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }

func mkTar(ents ...ent) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Size: int64(len(e.body)), ModTime: time.Unix(1600000000, 0)}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		tw.WriteHeader(hdr)
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return buf.Bytes()
}

// blobs is an in-memory blob store of uncompressed layers.
type blobs map[digest.Digest][]byte

func (b blobs) add(tars ...[]byte) []Layer {
	var out []Layer
	for _, t := range tars {
		d := digest.FromBytes(t)
		b[d] = t
		out = append(out, Layer{Blob: d, DiffID: d})
	}
	return out
}

func (b blobs) open(d digest.Digest) (io.ReadCloser, error) {
	if t, ok := b[d]; ok {
		return io.NopCloser(bytes.NewReader(t)), nil
	}
	return nil, fmt.Errorf("no blob %s", d)
}

// tree lists a directory as "path type mode [content]" lines.
func tree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		fi, _ := d.Info()
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			line += " " + read(t, p)
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var whiteoutLayers = [][]byte{
	mkTar(dir("etc/"), reg("etc/keep", "k"), reg("etc/gone", "g"), dir("opq/"), reg("opq/old", "o"), dir("d/"), reg("d/x", "x")),
	mkTar(dir("etc/"), reg("etc/.wh.gone", ""), dir("opq/"), reg("opq/.wh..wh..opq", ""), reg("opq/new", "n"), reg(".wh.d", ""), reg("d", "now a file")),
}

const whiteoutWant = `. drwxr-xr-x
d -rw-r--r-- now a file
etc drwxr-xr-x
etc/keep -rw-r--r-- k
opq drwxr-xr-x
opq/new -rw-r--r-- n`

func unpackAndView(t *testing.T, sn Snapshotter, b blobs, layers []Layer) string {
	t.Helper()
	top, err := Unpack(context.Background(), sn, b.open, layers)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	ms, err := sn.View(randomName("v-"), top)
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) { got = tree(t, d) })
	return got
}

func testUnpackWhiteouts(t *testing.T, sn Snapshotter) {
	b := blobs{}
	if got := unpackAndView(t, sn, b, b.add(whiteoutLayers...)); got != whiteoutWant {
		t.Fatalf("got\n%s\nwant\n%s", got, whiteoutWant)
	}
	// Unpacking again finds every layer there.
	n := 0
	sn.Walk(func(in Info) error {
		if in.Kind == KindCommitted {
			n++
		}
		return nil
	})
	unpackAndView(t, sn, b, b.add(whiteoutLayers...))
	m := 0
	sn.Walk(func(in Info) error {
		if in.Kind == KindCommitted {
			m++
		}
		return nil
	})
	if n != 2 || m != 2 {
		t.Fatalf("committed snapshots: %d then %d, want 2", n, m)
	}
}

// Two unpacks of the same layers at once: both succeed, one copy stays.
func testUnpackConcurrent(t *testing.T, sn Snapshotter) {
	b := blobs{}
	var big []ent
	for i := 0; i < 300; i++ {
		big = append(big, reg(fmt.Sprintf("f%03d", i), strings.Repeat("x", i)))
	}
	layers := b.add(mkTar(big...), whiteoutLayers[0], whiteoutLayers[1])
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Unpack(context.Background(), sn, b.open, layers)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	sn.Walk(func(in Info) error { keys = append(keys, string(in.Kind)); return nil })
	if len(keys) != 3 {
		t.Fatalf("snapshots after concurrent unpack: %v", keys)
	}
	got := unpackAndView(t, sn, b, layers)
	if !strings.Contains(got, "f299 -rw-r--r-- "+strings.Repeat("x", 299)) || !strings.Contains(got, "opq/new") {
		t.Fatalf("content: %s", got)
	}
}

func testUnpackWrongDiffID(t *testing.T, sn Snapshotter) {
	b := blobs{}
	ls := b.add(whiteoutLayers[0])
	ls[0].DiffID = digest.FromString("other")
	if _, err := Unpack(context.Background(), sn, b.open, ls); err == nil || !strings.Contains(err.Error(), "unpacks to") {
		t.Fatalf("wrong diffID: %v", err)
	}
	n := 0
	sn.Walk(func(Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d snapshots left after a failed unpack", n)
	}
}

// checkNoDebris fails when an unpack left an active snapshot, or a
// committed one whose parent is not committed (views are the test's).
func checkNoDebris(t *testing.T, sn Snapshotter) {
	t.Helper()
	infos := map[string]Info{}
	sn.Walk(func(in Info) error { infos[in.Name] = in; return nil })
	for name, in := range infos {
		if in.Kind == KindActive {
			t.Errorf("left behind: %s", name)
		}
		if p := in.Parent; in.Kind == KindCommitted && p != "" && infos[p].Kind != KindCommitted {
			t.Errorf("%s is committed over %s, which is not", name, p)
		}
	}
}

// A layer in the middle that does not unpack to its diffID fails the
// unpack; the layers unpacked beside it (overlay unpacks them side by
// side) leave nothing a later unpack could mistake for them.
func testUnpackFailsMidway(t *testing.T, sn Snapshotter) {
	b := blobs{}
	ls := b.add(deepLayers(4)...)
	ls[2].DiffID = digest.FromString("other")
	if _, err := Unpack(context.Background(), sn, b.open, ls); err == nil || !strings.Contains(err.Error(), "unpacks to") {
		t.Fatalf("wrong diffID in the middle: %v", err)
	}
	checkNoDebris(t, sn)
	ls = b.add(deepLayers(4)...)
	if got := unpackAndView(t, sn, b, ls); !strings.Contains(got, "l003 ") || strings.Contains(got, "l002 ") || !strings.Contains(got, "top -rw-r--r-- 3") {
		t.Fatalf("after a failed unpack, the next one gives:\n%s", got)
	}
	checkNoDebris(t, sn)
}

// A cancelled unpack stops and leaves no active snapshot.
func testUnpackCanceled(t *testing.T, sn Snapshotter) {
	b := blobs{}
	var big []ent
	for i := 0; i < 2000; i++ {
		big = append(big, reg(fmt.Sprintf("f%04d", i), "x"))
	}
	ls := b.add(mkTar(big...), mkTar(big...), mkTar(big...))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Unpack(ctx, sn, b.open, ls); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled unpack: %v", err)
	}
	checkNoDebris(t, sn)
}

// checksum hashes a tree: names, modes, owners, contents, link targets.
func checksum(t *testing.T, root string) string {
	h := sha256.New()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %o %d %d %d %d\n", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Nano())
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			io.WriteString(h, l)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func testLowerNeverChanges(t *testing.T, sn Snapshotter) {
	b := blobs{}
	top, err := Unpack(context.Background(), sn, b.open, b.add(whiteoutLayers...))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	sn.Walk(func(in Info) error {
		d, _ := sn.Dir(in.Name)
		sums[in.Name] = checksum(t, d)
		return nil
	})
	ms, err := sn.Prepare("ctr", top)
	if err != nil {
		t.Fatal(err)
	}
	withMount(t, ms, func(d string) {
		write(t, filepath.Join(d, "etc/keep"), "changed")
		os.Remove(filepath.Join(d, "opq/new"))
		os.Chmod(filepath.Join(d, "etc"), 0o700)
		os.Chown(filepath.Join(d, "d"), 5, 5)
		os.RemoveAll(filepath.Join(d, "etc"))
		write(t, filepath.Join(d, "new/file"), "n")
	})
	for name, want := range sums {
		d, _ := sn.Dir(name)
		if got := checksum(t, d); got != want {
			t.Errorf("snapshot %s changed under a container", name)
		}
	}
}

// deepLayers makes n layers, each adding a file and replacing one.
func deepLayers(n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, mkTar(reg(fmt.Sprintf("l%03d", i), "x"), reg("top", fmt.Sprint(i)), reg(fmt.Sprintf(".wh.l%03d", i-1), "")))
	}
	return out
}

func testDeep(t *testing.T, sn Snapshotter) {
	const n = 150
	b := blobs{}
	layers := b.add(deepLayers(n)...)
	check := func() {
		top, err := Unpack(context.Background(), sn, b.open, layers)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := sn.Prepare(randomName("c-"), top)
		if err != nil {
			t.Fatal(err)
		}
		withMount(t, ms, func(d string) {
			names, _ := os.ReadDir(d)
			if len(names) != 2 || read(t, filepath.Join(d, "top")) != fmt.Sprint(n-1) || read(t, filepath.Join(d, fmt.Sprintf("l%03d", n-1))) != "x" {
				t.Errorf("deep container sees %v, top=%s", names, read(t, filepath.Join(d, "top")))
			}
			write(t, filepath.Join(d, "w"), "w")
		})
	}
	check()
	if o, ok := sn.(*Overlay); ok {
		// Without short links this would not fit: 150 lowerdirs of full
		// paths are ~15 KiB.
		ms, _ := o.View("deepview", image150Top(layers))
		if l := len(strings.Join(ms[0].Options, ",")); l >= os.Getpagesize() {
			t.Fatalf("options %d bytes", l)
		}
		// A page so small that the links no longer fit: the bottom
		// layers are merged.
		o.MaxOptions = 700
		check()
		flats := 0
		sn.Walk(func(in Info) error {
			if _, ok := isFlat(in.Name); ok {
				flats++
			}
			return nil
		})
		if flats == 0 {
			t.Fatal("no flattened snapshot made")
		}
	}
}

func image150Top(layers []Layer) string {
	d := []digest.Digest{}
	for _, l := range layers {
		d = append(d, l.DiffID)
	}
	c := d[0]
	for _, x := range d[1:] {
		c = digest.FromString(c.String() + " " + x.String())
	}
	return c.String()
}
