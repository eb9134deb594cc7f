package analyze

import (
	"archive/tar"
	"bytes"
	"hash/maphash"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/strata-dev/strata/internal/testutil"
)

func TestWalk(t *testing.T) {
	plain := testutil.Tar(t, testutil.Entry{Name: "./a/"}, testutil.Entry{Name: "a/b", Body: "hello"}, testutil.Entry{Name: "/a/.wh.c"}, testutil.Entry{Name: "a/.wh..wh..opq"},
		testutil.Entry{Name: "big", Body: x("z", 2<<20)})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	seed := maphash.MakeSeed()
	type got struct {
		name, target string
		kind         int
		lazy         bool
	}
	for _, tc := range []struct {
		name string
		in   io.Reader
		lazy int64
		want []got
	}{
		{"plain", bytes.NewReader(plain), 0, []got{{"a", "a", KindFile, false}, {"a/b", "a/b", KindFile, false}, {"a/.wh.c", "a/c", KindWhiteout, false}, {"a/.wh..wh..opq", "a", KindOpaque, false}, {"big", "big", KindFile, false}}},
		{"gzip", &gz, 1 << 20, []got{{"a", "a", KindFile, false}, {"a/b", "a/b", KindFile, false}, {"a/.wh.c", "a/c", KindWhiteout, false}, {"a/.wh..wh..opq", "a", KindOpaque, false}, {"big", "big", KindFile, false}}},
		{"seekable", bytes.NewReader(plain), 1 << 20, []got{{"a", "a", KindFile, false}, {"a/b", "a/b", KindFile, false}, {"a/.wh.c", "a/c", KindWhiteout, false}, {"a/.wh..wh..opq", "a", KindOpaque, false}, {"big", "big", KindFile, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var all []got
			var hashes = map[string]uint64{}
			n, err := Walk(tc.in, seed, tc.lazy, func(e *Entry) error {
				k := kept(e)
				all = append(all, got{k.Name, k.Target, k.Kind, k.Lazy})
				hashes[k.Name] = k.Hash
				if e.Lazy && string(plain[e.Offset:e.Offset+4]) != "zzzz" {
					t.Errorf("lazy offset %d does not point at the content", e.Offset)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(plain)) {
				t.Errorf("read %d bytes, the tar has %d", n, len(plain))
			}
			if len(all) != len(tc.want) {
				t.Fatalf("entries %v, want %v", all, tc.want)
			}
			for i := range all {
				if all[i] != tc.want[i] {
					t.Errorf("entry %d: %+v, want %+v", i, all[i], tc.want[i])
				}
			}
			if hashes["a/b"] != maphash.String(seed, "hello") {
				t.Error("content hash of a/b is not the hash of its bytes")
			}
		})
	}
}

// kept copies an entry and its strings, which Walk reuses for the next one.
func kept(e *Entry) Entry {
	c := *e
	c.Name, c.RawName, c.Target, c.Linkname = strings.Clone(c.Name), strings.Clone(c.RawName), strings.Clone(c.Target), strings.Clone(c.Linkname)
	return c
}

func TestWalkRejectsGarbage(t *testing.T) {
	if _, err := Walk(bytes.NewReader(bytes.Repeat([]byte{1}, 1024)), maphash.MakeSeed(), 0, func(*Entry) error { return nil }); err == nil {
		t.Error("a stream that is not a tar was accepted")
	}
}

// FuzzWalk: the walker and the analyzer never panic on any stream, and the
// analysis of whatever entries a stream holds stays consistent.
func FuzzWalk(fz *testing.F) {
	fz.Add(testutil.Tar(fz, testutil.Entry{Name: "a/"}, testutil.Entry{Name: "a/b", Body: "x"}))
	fz.Add(testutil.Tar(fz, testutil.Entry{Name: "a/.wh..wh..opq"}, testutil.Entry{Name: ".wh.a"}, testutil.Entry{Name: "../../x", Body: "y"}))
	fz.Add(testutil.Tar(fz, testutil.Entry{Name: "x", Body: "1"}, testutil.Entry{Name: "x/y", Body: "2"}, testutil.Entry{Name: ".wh.x"}))
	fz.Add([]byte{0x1f, 0x8b, 0, 0})
	fz.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		seed := maphash.MakeSeed()
		_, err := Walk(bytes.NewReader(data), seed, 16, func(e *Entry) error {
			n++
			if e.Name == "" || e.Name[0] == '/' {
				t.Fatalf("entry name %q not cleaned", e.Name)
			}
			return nil
		})
		// The fast reader sees what archive/tar sees.
		var fast, slow []Entry
		_, ferr := Walk(bytes.NewReader(data), seed, 0, func(e *Entry) error { fast = append(fast, kept(e)); return nil })
		buf := make([]byte, 4096)
		serr := walkTar(tar.NewReader(bytes.NewReader(data)), nil, seed, buf, nil, func(e *Entry) error { slow = append(slow, kept(e)); return nil })
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("fast reader error %v, archive/tar error %v", ferr, serr)
		}
		if ferr == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast reader entries %+v, archive/tar entries %+v", fast, slow)
		}
		// A tap that reads part of each file changes no entry nor hash,
		// through either reader.
		var tapped, tappedSlow []Entry
		_, terr := WalkTap(bytes.NewReader(data), seed, 0, partTap{}, func(e *Entry) error { tapped = append(tapped, kept(e)); return nil })
		walkTar(tar.NewReader(bytes.NewReader(data)), nil, seed, buf, partTap{}, func(e *Entry) error { tappedSlow = append(tappedSlow, kept(e)); return nil })
		if (terr == nil) != (ferr == nil) || (ferr == nil && (!reflect.DeepEqual(fast, tapped) || !reflect.DeepEqual(slow, tappedSlow))) {
			t.Fatalf("tapped entries %+v %+v (%v), untapped %+v", tapped, tappedSlow, terr, fast)
		}
		if err != nil {
			return
		}
		// Two layers of the same stream: the second rewrites every path.
		im := &plan{Layers: []planLayer{{Open: opener(data)}, {Open: opener(data)}}}
		r, err := analyzePlan(im, Options{UpTo: -1, KeepChanges: true})
		if err != nil {
			return
		}
		if r.Efficiency > 1 || r.WastedBytes < 0 || r.WastedCopyBytes < 0 {
			t.Fatalf("efficiency %v wasted %d copies %d", r.Efficiency, r.WastedBytes, r.WastedCopyBytes)
		}
	})
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return blob{bytes.NewReader(b)}, nil }
}

// blob is an in-memory layer that seeks, as a store's blob file does.
type blob struct{ *bytes.Reader }

func (blob) Close() error { return nil }

// TestWalkFallback: a PAX header (here for a long name) in the middle of a
// layer hands the rest of the stream to archive/tar, which must see the
// same entries, hashes and byte count as archive/tar alone.
func TestWalkFallback(t *testing.T) {
	long := "d/" + x("n", 150)
	data := testutil.Tar(t, testutil.Entry{Name: "a/"}, testutil.Entry{Name: "a/b", Body: "hello"}, testutil.Entry{Name: long, Body: x("q", 700)}, testutil.Entry{Name: "a/c", Body: "world"}, testutil.Entry{Name: "big", Body: x("z", 300<<10)})
	if !bytes.Contains(data, []byte("path=")) {
		t.Fatal("the test tar has no PAX record")
	}
	seed := maphash.MakeSeed()
	for _, lazy := range []int64{0, 1 << 10} {
		var fast, slow []Entry
		n, err := Walk(bytes.NewReader(data), seed, lazy, func(e *Entry) error { fast = append(fast, kept(e)); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(len(data)) {
			t.Errorf("read %d bytes, the tar has %d", n, len(data))
		}
		if err := walkTar(tar.NewReader(bytes.NewReader(data)), nil, seed, make([]byte, 4096), nil, func(e *Entry) error { slow = append(slow, kept(e)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("lazyMin %d: fast reader entries %+v, archive/tar entries %+v", lazy, fast, slow)
		}
		if len(fast) != 5 || fast[2].Name != long {
			t.Errorf("entries %+v", fast)
		}
	}
}

// partTap reads the first 3 bytes of every regular file.
type partTap struct{}

func (partTap) Wants(*Entry) bool { return true }

func (partTap) Read(_ *Entry, r io.Reader) { io.ReadFull(r, make([]byte, 3)) }
