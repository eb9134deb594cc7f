package layer

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// Recorded with docker 20.10 (overlay2): `docker import` of the tar, then
// `docker inspect -f '{{.Size}}'`: testutil.BusyboxTar, and mixedEntries.
const (
	dockerBusyboxSize = 1985596
	dockerMixedSize   = 20
)

// TestContentSize: what a layer unpacks to, counted as docker counts a
// layer (the apparent sizes of what is not a directory, each inode once).
func TestContentSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents []testutil.Entry
		want int64
	}{
		{"empty", nil, 0},
		{"directories only", []testutil.Entry{testutil.Dir("a/"), testutil.Dir("a/b/")}, 0},
		{"files", []testutil.Entry{testutil.File("a", "12345"), testutil.File("b", "123")}, 8},
		{"a symlink counts its target", []testutil.Entry{testutil.Symlink("l", "/bin/busybox")}, 12},
		{"a hard link counts once", []testutil.Entry{testutil.File("a", "12345"), testutil.Hardlink("b", "a")}, 5},
		{"whiteouts count nothing", []testutil.Entry{testutil.Whiteout("gone"), testutil.File("a", "1")}, 1},
		{"devices count nothing", []testutil.Entry{{Name: "dev/null", Type: tar.TypeChar}, {Name: "p", Type: tar.TypeFifo}}, 0},
		{"every kind, as docker counted it", mixedEntries(), dockerMixedSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := testutil.Tar(t, tc.ents...)
			got, err := CheckTar(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("CheckTar: %d, want %d", got, tc.want)
			}
			b, err := Check(bytes.NewReader(gzipped(t, raw)))
			if err != nil || b.ContentSize != tc.want {
				t.Errorf("Check (gzip): %d, %v; want %d", b.ContentSize, err, tc.want)
			}
		})
	}
}

// TestContentSizeBusyboxAsDocker compares with the size docker recorded
// for the same rootfs, through each way a layer enters: a stored tar
// (Ingest) and a tree written by a build (WriteTree).
func TestContentSizeBusyboxAsDocker(t *testing.T) {
	raw := testutil.BusyboxTar(t)
	b, err := Check(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b.ContentSize != dockerBusyboxSize {
		t.Errorf("busybox unpacks to %d, docker says %d", b.ContentSize, dockerBusyboxSize)
	}
	dir := t.TempDir()
	if _, err := Apply(t.Context(), dir, bytes.NewReader(raw), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var written int64
	var out bytes.Buffer
	if err := WriteTree(&out, dir, DiffOptions{ContentSize: &written}); err != nil {
		t.Fatal(err)
	}
	if written != dockerBusyboxSize {
		t.Errorf("WriteTree counted %d, docker says %d", written, dockerBusyboxSize)
	}
	if n := treeSize(t, dir); n != dockerBusyboxSize {
		t.Errorf("the unpacked tree holds %d bytes, docker says %d", n, dockerBusyboxSize)
	}
}

// treeSize is docker's directory.Size: apparent sizes of non-directories,
// each inode once.
func treeSize(t *testing.T, dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		ino := inode(fi)
		if !seen[ino] {
			seen[ino] = true
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func gzipped(t *testing.T, raw []byte) []byte { return compressed(t, raw, Gzip) }

func inode(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }

// mixedEntries is a layer of every kind of entry, as imported into docker
// for dockerMixedSize.
func mixedEntries() []testutil.Entry {
	return []testutil.Entry{
		testutil.Dir("d/"), testutil.Dir("d/e/"),
		testutil.File("d/a", "12345"), testutil.File("d/e/b", "123"),
		testutil.Hardlink("d/a2", "d/a"),
		testutil.Symlink("l", "/bin/busybox"),
		{Name: "dev/", Type: tar.TypeDir}, {Name: "dev/null", Type: tar.TypeChar}, {Name: "p", Type: tar.TypeFifo},
		testutil.File("empty", ""),
	}
}
