package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fileInfo describes one filesystem entry for comparisons.
type fileInfo struct {
	Mode     uint32
	UID, GID uint32
	Size     int64
	Rdev     uint64
	Link     string
	Sum      string
	Xattrs   string
	Mtime    int64 // ns; 0 when not compared
	Nlink    uint64
}

type snapOpts struct {
	skip     func(rel string) bool
	times    bool // compare mtimes of non-directories
	nlink    bool
	allXattr bool // keep overlay xattrs too
}

// snapshot describes the tree at dir, keyed by slash path from dir.
func snapshot(t testing.TB, dir string, o snapOpts) map[string]fileInfo {
	t.Helper()
	out := map[string]fileInfo{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = "/" + filepath.ToSlash(rel)
		if rel == "/." {
			rel = "/"
		}
		if o.skip != nil && o.skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		out[rel] = describe(t, p, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func describe(t testing.TB, p string, o snapOpts) fileInfo {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	fi := fileInfo{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Rdev: st.Rdev}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi.Size = st.Size
		fi.Sum = fmt.Sprintf("%x", sha256.Sum256(b))
	case unix.S_IFLNK:
		fi.Link, _ = os.Readlink(p)
	}
	if o.times && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		fi.Mtime = st.Mtim.Nano()
	}
	if o.nlink {
		fi.Nlink = uint64(st.Nlink)
	}
	var xs map[string]string
	var err error
	if o.allXattr {
		xs, err = listXattrs(p)
	} else {
		xs, err = contentXattrs(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	var kv []string
	for k, v := range xs {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	fi.Xattrs = strings.Join(kv, ",")
	return fi
}

// diffSnapshots lists the differences between two snapshots.
func diffSnapshots(a, b map[string]fileInfo) []string {
	var out []string
	for k, va := range a {
		vb, ok := b[k]
		switch {
		case !ok:
			out = append(out, "only in first: "+k)
		case va != vb:
			out = append(out, fmt.Sprintf("%s: %+v != %+v", k, va, vb))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "only in second: "+k)
		}
	}
	sort.Strings(out)
	return out
}

// tarNames lists the entry names of a tar, with type letters.
func tarNames(t testing.TB, b []byte) []string {
	t.Helper()
	return readTarNames(t, bytes.NewReader(b))
}

// readTarNames is tarNames of a stream, read to its end marker.
func readTarNames(t testing.TB, r io.Reader) []string {
	t.Helper()
	tr := tar.NewReader(r)
	var out []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return out
		}
		s := string(hdr.Typeflag) + " " + hdr.Name
		if hdr.Linkname != "" {
			s += " -> " + hdr.Linkname
		}
		out = append(out, s)
	}
}
