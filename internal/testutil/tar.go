package testutil

import (
	"archive/tar"
	"bytes"
	"path"
	"testing"
	"time"
)

// ModTime is the modification time of every entry that does not set one,
// fixed so that the same entries make the same bytes (and so the same
// digests and image IDs) in every run.
var ModTime = time.Unix(1700000000, 0)

// Entry is one entry of a test tar. Type may be left zero: a Name ending in
// "/" is then a directory, a Link a symlink, anything else a regular file
// holding Body. Mode left zero is 0o755 for directories and 0o644 for the
// rest. Xattrs are written as PAX records (SCHILY.xattr.NAME).
type Entry struct {
	Name               string
	Body               string
	Type               byte
	Link               string // symlink target, or the hard link's target with Type tar.TypeLink
	Mode               int64
	UID, GID           int
	ModTime            time.Time
	Xattrs             map[string]string
	Devmajor, Devminor int64
}

// File is a regular file entry with mode 0o644.
func File(name, body string) Entry { return Entry{Name: name, Body: body, Type: tar.TypeReg} }

// Dir is a directory entry with mode 0o755.
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir} }

// Symlink is a symlink entry (mode 0o777, as symlinks are on Linux).
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}

// Hardlink is a hard link entry to an earlier entry named target.
func Hardlink(name, target string) Entry { return Entry{Name: name, Type: tar.TypeLink, Link: target} }

// Whiteout is the entry that deletes name from the layers below (an empty
// ".wh." file next to it, as docker writes it).
func Whiteout(name string) Entry {
	return Entry{Name: path.Join(path.Dir(name), ".wh."+path.Base(name)), Type: tar.TypeReg}
}

// Opaque is the entry that hides everything the layers below have in dir.
func Opaque(dir string) Entry { return Entry{Name: path.Join(dir, ".wh..wh..opq"), Type: tar.TypeReg} }

// Header is the tar header Tar writes for e.
func (e Entry) Header() *tar.Header {
	h := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Link, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
		ModTime: e.ModTime, Devmajor: e.Devmajor, Devminor: e.Devminor, Format: tar.FormatPAX}
	if h.Typeflag == 0 {
		switch {
		case len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/':
			h.Typeflag = tar.TypeDir
		case e.Link != "":
			h.Typeflag = tar.TypeSymlink
		default:
			h.Typeflag = tar.TypeReg
		}
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(e.Body))
	}
	if h.Mode == 0 {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
	}
	if h.ModTime.IsZero() {
		h.ModTime = ModTime
	}
	for k, v := range e.Xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = v
	}
	return h
}

// Tar writes entries, in order, as an uncompressed tar.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header()
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", e.Name, err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
