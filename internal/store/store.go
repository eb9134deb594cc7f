// Package store ties the blob store and the metadata together into an image
// store: images made of shared, content-addressed blobs, their names, and
// garbage collection of what no root references.
//
// Locking: ROOT/lock is a file lock. Every operation that writes blobs (load,
// import, pull, build, commit) holds it shared for its whole duration, so
// any number of them run at once; garbage collection holds it exclusively,
// so it never sweeps a blob that a running operation has written but not
// yet referenced. Metadata transactions are serialized by bbolt's own lock.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/flock"
	"github.com/strata-dev/strata/internal/metadata"
)

// Store is an image store rooted at a directory.
type Store struct {
	Root string
	// RunDir, when set, holds the files that must not outlive a boot
	// (see Path).
	RunDir  string
	Content *content.Store
	Meta    *metadata.DB
}

// Open opens (creating if needed) the store at root.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("no store root given")
	}
	// Absolute once, here: runtime bundles, mounts and the paths handed to
	// runc are used from other working directories.
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store root: %w", err)
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("create store root: %w", err)
	}
	cs, err := content.Open(filepath.Join(root, string(Blobs)))
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	db, err := metadata.Open(filepath.Join(root, string(MetaDB)))
	if err != nil {
		return nil, err
	}
	return &Store{Root: root, Content: cs, Meta: db}, nil
}

// Lock is a held store lock.
type Lock struct{ f *os.File }

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		flock.Unlock(l.f)
	}
}

func (s *Store) lock(how int) (*Lock, error) {
	f, err := flock.Open(s.Path(LockFile), how)
	if err != nil {
		return nil, err
	}
	return &Lock{f}, nil
}

// Writing takes the lock that an operation writing blobs holds while it runs.
func (s *Store) Writing() (*Lock, error) { return s.lock(unix.LOCK_SH) }

// exclusive takes the garbage collector's lock; it waits for writers.
func (s *Store) exclusive() (*Lock, error) { return s.lock(unix.LOCK_EX) }

// Exclusive is the garbage collector's lock for collectors outside the
// store (the container manager's orphans): while it is held no writer
// (build, create, commit, pull) runs, so nothing half-made is taken for
// debris.
func (s *Store) Exclusive() (*Lock, error) { return s.exclusive() }

// tryExclusive takes the garbage collector's lock if no writer runs.
func (s *Store) tryExclusive() (*Lock, bool, error) {
	l, err := s.lock(unix.LOCK_EX | unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, false, nil
	}
	return l, err == nil, err
}
