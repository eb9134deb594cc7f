package buildctx

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStatCacheRoundTrip(t *testing.T) {
	m := map[string]statEntry{"/a": {Ino: 1, Size: 2, Mtime: -3, Ctime: 4, Sum: [32]byte{5}}, "/b/c": {Ino: 9}}
	got, ok := decodeStat(string(encodeStat(statFile{}, m)))
	if !ok || len(got.at) != 2 {
		t.Fatalf("round trip: %v %v", got, ok)
	}
	for p, want := range m {
		if e, ok := got.get(p); !ok || e != want {
			t.Fatalf("round trip of %s: %v %v", p, e, ok)
		}
	}
	// Saved again with one entry replaced and one added: the file's
	// entries that were not replaced are kept as they were.
	changed := map[string]statEntry{"/a": {Ino: 7}, "/d": {Size: 8}}
	again, ok := decodeStat(string(encodeStat(got, changed)))
	if !ok || len(again.at) != 3 {
		t.Fatalf("second round trip: %v %v", again, ok)
	}
	for p, want := range map[string]statEntry{"/a": {Ino: 7}, "/b/c": m["/b/c"], "/d": {Size: 8}} {
		if e, ok := again.get(p); !ok || e != want {
			t.Fatalf("second round trip of %s: %v %v", p, e, ok)
		}
	}
	huge := append([]byte(statMagic), 0xff, 0xff, 0xff, 0xff, 0x0f) // a count no file of this size holds
	for _, bad := range [][]byte{nil, []byte("junk"), append([]byte(statMagic), 1, 200), huge, []byte("strata-statcache-1\n")} {
		if _, ok := decodeStat(string(bad)); ok {
			t.Fatalf("accepted %q", bad)
		}
	}
}

// TestFileSumUsesStatCache: an unchanged file is not read again; a
// rewritten one is.
func TestFileSumUsesStatCache(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("one"), 0o644)
	cache := filepath.Join(t.TempDir(), "sums")
	fs := &FS{Root: dir, Sums: OpenStatCache(cache)}
	e, err := fs.Lstat("f")
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := fs.FileSum(e)
	if err := fs.Sums.Save(); err != nil {
		t.Fatal(err)
	}
	fs2 := &FS{Root: dir, Sums: OpenStatCache(cache)}
	if s2, _ := fs2.FileSum(e); s2 != s1 {
		t.Fatal("cached sum differs")
	}
	os.WriteFile(p, []byte("two!"), 0o644)
	e2, _ := fs2.Lstat("f")
	if s3, _ := fs2.FileSum(e2); s3 == s1 {
		t.Fatal("a rewritten file kept its old sum")
	}
}

func FuzzDecodeStat(f *testing.F) {
	f.Add(encodeStat(statFile{}, map[string]statEntry{"/x": {Ino: 1}}))
	// A path length whose n+64 overflows uint64 (found by the fuzzer).
	f.Add(append(append([]byte(statMagic), 1, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if sf, ok := decodeStat(string(b)); ok {
			for p := range sf.at {
				sf.get(p)
			}
		}
	})
}
