package analyze

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// virtualTar is a seekable tar whose big contents are zeros that take no
// memory: parts are either bytes or a count of zeros.
type virtualTar struct {
	parts []vpart
	size  int64
}

type vpart struct {
	b     []byte
	zeros int64
}

func (v *virtualTar) bytes(b []byte) { v.parts = append(v.parts, vpart{b: b}); v.size += int64(len(b)) }
func (v *virtualTar) zeros(n int64)  { v.parts = append(v.parts, vpart{zeros: n}); v.size += n }

// file adds a header and the file's content: body, or size zeros.
func (v *virtualTar) file(t *testing.T, name string, size int64, body string) {
	t.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if body != "" {
		size = int64(len(body))
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	v.bytes(bytes.Clone(hdr.Bytes()))
	if body != "" {
		v.bytes([]byte(body))
	} else {
		v.zeros(size)
	}
	v.zeros(-size & 511)
}

func (v *virtualTar) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, pt := range v.parts {
		l := int64(len(pt.b)) + pt.zeros
		if off >= l {
			off -= l
			continue
		}
		for len(p) > n && off < l {
			m := int(min(int64(len(p)-n), l-off))
			if pt.b != nil {
				copy(p[n:n+m], pt.b[off:])
			} else {
				clear(p[n : n+m])
			}
			n += m
			off += int64(m)
		}
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// seekable makes the layer's reader a ReadSeeker with ReaderAt, as a
// store's blob file is: big files are skipped, not read.
type seekable struct{ *io.SectionReader }

func (seekable) Close() error { return nil }

// TestBigSizes: sizes of 4 GiB and more (kept beside the nodes) are exact
// in every figure: a 5 GiB file overwritten by a 4.5 GiB one.
func TestBigSizes(t *testing.T) {
	const big, smaller = 5 << 30, 9 << 29
	var l0, l1 virtualTar
	l0.file(t, "big", big, "")
	l0.zeros(1024)
	l1.file(t, "big", smaller, "")
	l1.file(t, "small", 0, "abc")
	l1.zeros(1024)
	im := &plan{}
	for _, v := range []*virtualTar{&l0, &l1} {
		v := v
		im.Layers = append(im.Layers, planLayer{Digest: "sha256:0", Size: v.size, Open: func() (io.ReadCloser, error) {
			return seekable{io.NewSectionReader(v, 0, v.size)}, nil
		}})
	}
	r, err := analyzePlan(im, Options{UpTo: -1, KeepChanges: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.SizeBytes != big+smaller+3 || r.UserSizeBytes != smaller+3 {
		t.Errorf("size %d, user size %d", r.SizeBytes, r.UserSizeBytes)
	}
	// dive: big has two versions (least 4.5 GiB, total 9.5 GiB), small one.
	if want := float64(smaller+3) / float64(big+smaller+3); r.Efficiency != want {
		t.Errorf("efficiency %v, want %v", r.Efficiency, want)
	}
	if r.WastedBytes != big+smaller || len(r.Inefficiencies) != 1 || r.Inefficiencies[0].Bytes != big+smaller {
		t.Errorf("wasted %d, inefficient files %+v", r.WastedBytes, r.Inefficiencies)
	}
	if len(r.WastedCopies) != 1 || r.WastedCopies[0].Size != big || r.Layers[0].WastedBytes != big {
		t.Errorf("wasted copies %+v", r.WastedCopies)
	}
	if c := r.Layers[1].Changes; len(c) != 2 || c[0].Size != smaller || c[0].Status != Modified {
		t.Errorf("changes of layer 1: %+v", c)
	}
	var b strings.Builder
	if err := WriteTree(&b, r, TreeImage); err != nil || !strings.Contains(b.String(), "4.8 GB  ├── big") {
		t.Errorf("tree (%v):\n%s", err, b.String())
	}
}

func TestTooManyLayers(t *testing.T) {
	im := &plan{Layers: make([]planLayer, maxLayers+1)}
	if _, err := analyzePlan(im, Options{UpTo: -1}); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Errorf("error %v, want one about the 65535 layers the analysis takes", err)
	}
}

func TestLongPathElement(t *testing.T) {
	im := &plan{Layers: []planLayer{{Open: opener(testutil.Tar(t, testutil.Entry{Name: "d/" + x("n", 70000), Body: "x"}))}}}
	if _, err := analyzePlan(im, Options{UpTo: -1}); err == nil || !strings.Contains(err.Error(), "path element of 70000 bytes") {
		t.Errorf("error %v, want one about the long path element", err)
	}
}
