// Package content is the blob store: immutable byte strings named by the
// sha256 of their bytes. A blob becomes visible only after it was written to a
// temporary file, hashed while writing, fsynced, checked against the digest
// the caller expected and renamed into place, so a reader never sees a
// partial or wrong blob and a crash leaves at most a stray temporary file.
package content

import (
	_ "crypto/sha256" // registers sha256 for go-digest
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Store is a directory of blobs: ROOT/sha256/<hex>, with ROOT/ingest for
// writes in progress.
type Store struct {
	root string
}

// Open makes the directories of a store at root if needed.
func Open(root string) (*Store, error) {
	for _, d := range []string{filepath.Join(root, "sha256"), filepath.Join(root, "ingest")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return &Store{root: root}, nil
}

// Path is where the blob dgst lives (whether or not it exists).
func (s *Store) Path(dgst digest.Digest) string {
	return filepath.Join(s.root, string(dgst.Algorithm()), dgst.Encoded())
}

// Info returns the size of a stored blob.
func (s *Store) Info(dgst digest.Digest) (int64, error) {
	if err := dgst.Validate(); err != nil {
		return 0, fmt.Errorf("invalid digest %q: %w", dgst, err)
	}
	fi, err := os.Stat(s.Path(dgst))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: blob %w", dgst, errdefs.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Has reports whether the blob is stored.
func (s *Store) Has(dgst digest.Digest) bool {
	_, err := s.Info(dgst)
	return err == nil
}

// Open opens a stored blob for reading.
func (s *Store) Open(dgst digest.Digest) (*os.File, error) {
	if err := dgst.Validate(); err != nil {
		return nil, fmt.Errorf("invalid digest %q: %w", dgst, err)
	}
	f, err := os.Open(s.Path(dgst))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: blob %w", dgst, errdefs.ErrNotFound)
	}
	return f, err
}

// ReadAll reads a small blob (a manifest or a config) whole. max bounds what
// is read so a damaged store cannot make us allocate without limit.
func (s *Store) ReadAll(dgst digest.Digest, max int64) ([]byte, error) {
	f, err := s.Open(dgst)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", dgst, max)
	}
	if digest.FromBytes(b) != dgst {
		return nil, fmt.Errorf("blob %s is damaged: its content does not match its digest", dgst)
	}
	return b, nil
}

// Delete removes a blob; a missing blob is not an error.
func (s *Store) Delete(dgst digest.Digest) error {
	err := os.Remove(s.Path(dgst))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Walk calls fn for every stored blob.
func (s *Store) Walk(fn func(dgst digest.Digest, size int64) error) error {
	dir := filepath.Join(s.root, "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if err := fn(d, fi.Size()); err != nil {
			return err
		}
	}
	return nil
}

// Verify re-hashes a stored blob and reports whether it still matches.
func (s *Store) Verify(dgst digest.Digest) error {
	f, err := s.Open(dgst)
	if err != nil {
		return err
	}
	defer f.Close()
	v := dgst.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return err
	}
	if !v.Verified() {
		return fmt.Errorf("blob %s is damaged: its content does not match its digest", dgst)
	}
	return nil
}

// CleanIngest removes temporary files older writers left behind (a killed
// process). Callers must hold the store's exclusive lock, so no writer is
// running.
func (s *Store) CleanIngest() error {
	dir := filepath.Join(s.root, "ingest")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tmp-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}
