//go:build !race

package analyze

import (
	"io"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
)

// The memory design, guarded without timing: the per-path structures keep
// their sizes, and a 100,000-file layer costs what the design says.

func TestStructSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"node", unsafe.Sizeof(node{}), 28},
		{"entry", unsafe.Sizeof(entry{}), 24},
		{"dupRec", unsafe.Sizeof(dupRec{}), 24},
		{"arrivalRun", unsafe.Sizeof(arrivalRun{}), 12},
	} {
		if c.got > c.want {
			t.Errorf("%s is %d bytes, more than %d: every path of an image pays it", c.name, c.got, c.want)
		}
	}
}

// manyFiles streams a one-layer tar like bench/out/manyfiles.tar: the
// directory data, 100 directories data/dN, 10 sN in each, 100 files fN.txt
// of 16 distinct bytes in each: 101,101 entries. Headers are built as the
// stream is read, so that the test holds no 100 MB buffer and allocates
// nothing per entry.
type manyFiles struct {
	d, s, f int // the next entry: -1 is the directory itself
	cur     []byte
	block   [1024]byte
	end     bool
}

const (
	manyDirs, manySubs, manyPer = 100, 10, 100
	manyPaths                   = 1 + manyDirs*(1+manySubs*(1+manyPer)) // and the root
)

func newManyFiles() *manyFiles { return &manyFiles{d: -1, s: -1, f: -1} }

func (m *manyFiles) Read(p []byte) (int, error) {
	for len(m.cur) == 0 {
		if m.end {
			return 0, io.EOF
		}
		m.next()
	}
	n := copy(p, m.cur)
	m.cur = m.cur[n:]
	return n, nil
}

// next makes the next entry (or the end of the archive) the bytes to read.
func (m *manyFiles) next() {
	b := m.block[:]
	clear(b)
	name := append(b[:0:100], "data/"...)
	switch {
	case m.d == -1:
	case m.s == -1:
		name = strconv.AppendInt(append(name, 'd'), int64(m.d), 10)
		name = append(name, '/')
	case m.f == -1:
		name = strconv.AppendInt(append(name, 'd'), int64(m.d), 10)
		name = strconv.AppendInt(append(name, "/s"...), int64(m.s), 10)
		name = append(name, '/')
	default:
		name = strconv.AppendInt(append(name, 'd'), int64(m.d), 10)
		name = strconv.AppendInt(append(name, "/s"...), int64(m.s), 10)
		name = strconv.AppendInt(append(name, "/f"...), int64(m.f), 10)
		name = append(name, ".txt"...)
	}
	if len(name) > 100 { // written in place, in the header's name field
		panic("name longer than a tar header holds")
	}
	file := m.f >= 0
	mode, size, typ := "0000755", 0, byte('5')
	if file {
		mode, size, typ = "0000644", 16, '0'
		body := strconv.AppendInt(append(b[512:512:1024], "file "...), int64((m.d*manySubs+m.s)*manyPer+m.f), 10)
		for len(body) < 15 {
			body = append(body, ' ')
		}
		_ = append(body, '\n')
	}
	copy(b[100:], mode)
	copy(b[108:], "0000000")
	copy(b[116:], "0000000")
	copy(b[124:], strconv.AppendInt(b[1000:1000:1012], int64(size), 8)) // in the padding, cleared below
	copy(b[136:], "15335301400")
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	clear(b[1000:])
	copy(b[148:], strconv.AppendInt(b[1000:1000:1012], int64(sum), 8))
	b[154], b[155] = 0, ' '
	clear(b[1000:])
	m.cur = b[:512]
	if file {
		m.cur = b[:1024]
	}
	// Advance: directory, its subdirectories, their files, depth first.
	switch {
	case m.d == -1:
		m.d = 0
	case m.s == -1:
		m.s = 0
	case m.f < manyPer-1:
		m.f++
		return
	case m.f == -1:
		m.f = 0
		return
	default:
		m.f, m.s = -1, m.s+1
		if m.s == manySubs {
			m.s, m.d = -1, m.d+1
		}
	}
	if m.d == manyDirs {
		m.end = true
	}
}

// TestAnalyzeMemory analyses 100,000 files and bounds what the analysis
// keeps (its tree: a 28-byte node a path, names mostly shared) and what it
// allocates in all (the nodes, the lookup table's generations, buffers: no
// allocation per entry).
func TestAnalyzeMemory(t *testing.T) {
	im := &plan{Layers: []planLayer{{Open: func() (io.ReadCloser, error) { return io.NopCloser(newManyFiles()), nil }}}}
	var before, after, final runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := analyzePlan(im, Options{UpTo: -1})
	runtime.ReadMemStats(&after)
	runtime.GC()
	runtime.ReadMemStats(&final)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Layers[0].Added.Files; got != manyDirs*manySubs*manyPer {
		t.Fatalf("%d files added, want %d", got, manyDirs*manySubs*manyPer)
	}
	if got := r.tree.nodes.n; got != manyPaths+1 {
		t.Fatalf("%d nodes, want %d", got, manyPaths+1)
	}
	// Measured: 29.6 and 44.8 bytes a path. A 4-byte bigger node, names
	// not shared or a 16-byte allocation per entry break the bounds.
	const (
		keptPerPath  = 29        // the 28-byte node, in 4096-node chunks
		allocPerPath = 45        // and the lookup table's generations (2 x 5 bytes a slot at most 13/16 full)
		fixed        = 192 << 10 // names (shared: f0.txt..f99.txt), buffers, the result
	)
	kept := int64(final.HeapAlloc) - int64(before.HeapAlloc)
	alloc := int64(after.TotalAlloc - before.TotalAlloc)
	t.Logf("%d paths: kept %d bytes (%.1f a path), allocated %d (%.1f a path)", manyPaths, kept, float64(kept)/manyPaths, alloc, float64(alloc)/manyPaths)
	if max := int64(manyPaths*keptPerPath + fixed); kept > max {
		t.Errorf("the analysis keeps %d bytes for %d paths, more than %d", kept, manyPaths, max)
	}
	if max := int64(manyPaths*allocPerPath + fixed); alloc > max {
		t.Errorf("the analysis allocates %d bytes for %d paths, more than %d", alloc, manyPaths, max)
	}
	runtime.KeepAlive(r)
}
