package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// TestCheckRefusesBadLayers: the refused layer of each bad stack is
// refused on its own (no rule needs the layers below), naming the entry,
// and so is it by Apply, even on a root that holds the lower layers.
func TestCheckRefusesBadLayers(t *testing.T) {
	for _, bad := range testutil.BadImages() {
		t.Run(bad.Name, func(t *testing.T) {
			_, err := CheckTar(bytes.NewReader(testutil.Tar(t, bad.Layers[bad.Bad]...)))
			var ee *EntryError
			if !errors.As(err, &ee) || !errors.Is(err, ErrInvalidLayer) {
				t.Fatalf("CheckTar: %v, want an EntryError", err)
			}
			if ee.Entry != bad.Entry || !strings.Contains(err.Error(), bad.Reason) {
				t.Errorf("refused %q (%v), want %q (%s)", ee.Entry, err, bad.Entry, bad.Reason)
			}
			root := t.TempDir()
			for i, l := range bad.Layers[:bad.Bad+1] {
				_, err := Apply(t.Context(), root, bytes.NewReader(testutil.Tar(t, l...)), ApplyOptions{})
				if (err != nil) != (i == bad.Bad) {
					t.Errorf("Apply of layer %d: %v", i, err)
				}
			}
		})
	}
}

// TestCheckAccepts: what the rules let through (docker 20.10 loads each).
func TestCheckAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents []testutil.Entry
	}{
		{"hard link to an earlier file", []testutil.Entry{testutil.File("a", "a"), testutil.Hardlink("b", "a")}},
		{"absolute names and link targets", []testutil.Entry{testutil.File("/x/a", "a"), testutil.Hardlink("/x/b", "/x/a")}},
		{"dotted names", []testutil.Entry{testutil.File("./x//a", "a"), testutil.Hardlink("x/./b", "./x/a")}},
		{"hard link, then its target rewritten", []testutil.Entry{testutil.File("a", "1"), testutil.Hardlink("b", "a"), testutil.File("a", "2")}},
		{"hard link to a symlink", []testutil.Entry{testutil.Symlink("s", "/nowhere"), testutil.Hardlink("b", "s")}},
		{"opaque marker at the top", []testutil.Entry{testutil.Opaque(".")}},
		{"aufs bookkeeping", []testutil.Entry{testutil.File(".wh..wh.plnk", ""), testutil.File(".wh..wh.aufs", "")}},
		{"whiteouts", []testutil.Entry{testutil.Whiteout("etc/x"), testutil.Whiteout("y")}},
		{"a directory named like a whiteout", []testutil.Entry{testutil.File("etc/.wh.zz/q", "q")}},
		{"the root itself", []testutil.Entry{testutil.Dir("./"), testutil.Dir("/")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := CheckTar(bytes.NewReader(testutil.Tar(t, tc.ents...))); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCheckRefusesRemovedTargets: a link target removed by a later entry
// of the same layer (a whiteout, or a non-directory over its directory)
// is gone when the link comes.
func TestCheckRefusesRemovedTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents []testutil.Entry
	}{
		{"whited out", []testutil.Entry{testutil.File("a", "a"), testutil.Whiteout("a"), testutil.Hardlink("b", "a")}},
		{"its directory replaced by a file", []testutil.Entry{testutil.File("d/a", "a"), testutil.File("d", "now a file"), testutil.Hardlink("b", "d/a")}},
		{"its directory whited out", []testutil.Entry{testutil.File("d/a", "a"), testutil.Whiteout("d"), testutil.Hardlink("b", "d/a")}},
		{"unsupported type", []testutil.Entry{{Name: "v", Type: tar.TypeCont}}},
		{"NUL in a name", []testutil.Entry{testutil.File("a\x00b", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec := NewEntryChecker()
			var err error
			for _, e := range tc.ents {
				if err = ec.Check(e.Header()); err != nil {
					break
				}
			}
			if err == nil {
				t.Error("accepted")
			}
		})
	}
}

// FuzzEntryChecker: any sequence of entries (names, types and link
// targets from the fuzzer) is checked without a panic, and what the
// checker accepts names no path outside the root.
func FuzzEntryChecker(f *testing.F) {
	f.Add("a\x00b\x000c\x00a", []byte{'0', '1', 'L'})
	f.Add(".wh.\x00../x\x00d/.wh..wh..opq", []byte{'0', '0', '0'})
	f.Add("x/\x00y\x00/abs/../z", []byte{'5', '1', '2'})
	f.Fuzz(func(t *testing.T, names string, types []byte) {
		parts := strings.Split(names, "\x00")
		ec := NewEntryChecker()
		for i := 0; i+1 < len(parts); i += 2 {
			typ := byte('0')
			if i/2 < len(types) {
				typ = types[i/2]
			}
			hdr := &tar.Header{Name: parts[i], Typeflag: typ, Linkname: parts[i+1]}
			if err := ec.Check(hdr); err != nil {
				return
			}
			if typ == tar.TypeXGlobalHeader {
				continue // pax global headers are metadata, never extracted: their names are not paths
			}
			p, err := cleanPath(parts[i])
			if err != nil || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") {
				t.Fatalf("accepted %q, which cleans to %q (%v)", parts[i], p, err)
			}
		}
	})
}
