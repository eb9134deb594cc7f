package content

import (
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/fanout"
)

// Writer receives the bytes of one new blob. Commit makes it visible under
// its digest; Close without Commit throws it away.
type Writer struct {
	s    *Store
	f    *os.File
	file *blobFile // writes f
	h    hash.Hash
	// out writes to f and hashes at once, on two cores: one after the
	// other, a 1 GiB load spent a third of its time in the write calls
	// with the hash waiting.
	out     *fanout.Writer
	n       int64
	done    bool
	written bool // Commit found the blob new and wrote it
}

// NewWriter starts a blob.
func (s *Store) NewWriter() (*Writer, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "tmp-")
	if err != nil {
		return nil, err
	}
	h := digest.SHA256.Hash()
	file := &blobFile{f: f}
	return &Writer{s: s, f: f, file: file, h: h, out: fanout.New(file, h)}, nil
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	w.n += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Digest is the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, w.h) }

// Commit checks the blob against expected (when not empty) and size (when
// >= 0), then makes it durable and visible. It returns the blob's digest.
func (w *Writer) Commit(expected digest.Digest, size int64) (digest.Digest, error) {
	defer w.Close()
	got, err := w.Verify(expected, size)
	if err != nil {
		return "", err
	}
	if w.s.Has(got) {
		return got, nil
	}
	if err := w.file.Sync(); err != nil {
		return "", err
	}
	if err := w.f.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(w.f.Name(), 0o444); err != nil {
		return "", err
	}
	if err := os.Rename(w.f.Name(), w.s.Path(got)); err != nil {
		return "", err
	}
	w.done, w.written = true, true
	return got, syncDir(filepath.Dir(w.s.Path(got)))
}

// Verify ends the writes and checks what was written against size (when
// >= 0) and expected (when not ""), storing nothing; it returns the digest.
func (w *Writer) Verify(expected digest.Digest, size int64) (digest.Digest, error) {
	w.out.Close()
	got := w.Digest()
	if size >= 0 && w.n != size {
		return "", fmt.Errorf("blob %s: got %d bytes, want %d", expected, w.n, size)
	}
	if expected != "" && got != expected {
		return "", fmt.Errorf("digest mismatch: content is %s, expected %s", got, expected)
	}
	return got, nil
}

// Written reports whether Commit stored new bytes (false when the blob was
// already present).
func (w *Writer) Written() bool { return w.written }

// Close discards an uncommitted blob.
func (w *Writer) Close() error {
	w.out.Close()
	if w.done {
		return nil
	}
	w.done = true
	w.file.release()
	w.f.Close()
	return os.Remove(w.f.Name())
}

// Put stores r as a blob, checked against expected digest and size when given.
func (s *Store) Put(r io.Reader, expected digest.Digest, size int64) (digest.Digest, int64, error) {
	if expected != "" && s.Has(expected) {
		// Never trust a digest we did not compute: the stored copy was
		// verified when it was written; the caller's bytes are drained to
		// keep stream positions right.
		n, err := io.Copy(io.Discard, r)
		return expected, n, err
	}
	w, err := s.NewWriter()
	if err != nil {
		return "", 0, err
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return "", 0, err
	}
	d, err := w.Commit(expected, size)
	return d, w.n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
