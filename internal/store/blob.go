package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// A blob is either a file of the blob store or a layer kept only as its
// snapshot (metadata.SnapBlob): a RUN step's layer is the changes its
// command made in a snapshot that the build keeps anyway, as the next
// step's parent, so writing them a second time as a tar file would double
// the disk space and, for a big layer, most of the build's time. Docker
// keeps its layers the same way. The functions below read both kinds;
// everything that reads a layer blob goes through them.

// OpenBlob opens blob d for reading. A snapshot-kept layer is written from
// its snapshot as it is read, and the stream ends in an error instead of
// EOF if what was written is not the recorded digest and size.
func (s *Store) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	f, err := s.Content.Open(d)
	if err == nil {
		return f, nil
	}
	if !errdefs.IsNotFound(err) {
		return nil, err
	}
	sb, ok, serr := s.snapBlob(d)
	if serr != nil {
		return nil, serr
	}
	if !ok {
		return nil, err
	}
	// The shared lock keeps garbage collection from removing the snapshot
	// while it is read.
	l, err := s.Writing()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer l.Unlock()
		pw.CloseWithError(s.writeSnapBlob(pw, d, sb))
	}()
	return pr, nil
}

// writeSnapBlob writes the tar of a snapshot-kept blob to w and checks it.
func (s *Store) writeSnapBlob(w io.Writer, d digest.Digest, sb metadata.SnapBlob) error {
	sn, err := s.openSnapshots(sb.Driver)
	if err != nil {
		return err
	}
	tar := layer.NewDigester()
	bw := bufio.NewWriterSize(io.MultiWriter(tar, w), 1<<20)
	if err := sn.WriteDiff(bw, sb.Snapshot, layer.DiffOptions{Exclude: sb.Exclude}); err != nil {
		return fmt.Errorf("layer %s from its snapshot: %w", d, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if got := tar.Digest(); got != d || tar.Size() != sb.Size {
		return fmt.Errorf("layer %s: its snapshot %s has changed: it now gives %s (%d bytes, not %d)", d, sb.Snapshot, got, tar.Size(), sb.Size)
	}
	return nil
}

// HasBlob reports whether blob d can be read: a file or a kept snapshot.
func (s *Store) HasBlob(d digest.Digest) bool {
	if s.Content.Has(d) {
		return true
	}
	_, ok, _ := s.snapBlob(d)
	return ok
}

func (s *Store) snapBlob(d digest.Digest) (metadata.SnapBlob, bool, error) {
	var sb metadata.SnapBlob
	err := s.Meta.View(func(tx *metadata.Tx) error {
		return tx.Get(metadata.BucketSnapBlobs, d.String(), &sb)
	})
	if errdefs.IsNotFound(err) {
		return sb, false, nil
	}
	return sb, err == nil, err
}

// AddSnapBlob records a layer kept as its snapshot: the layer record and
// the snapshot that holds it, in one transaction. The caller has committed
// the snapshot and holds the store's writing lock, as for any blob.
func (s *Store) AddSnapBlob(l metadata.Layer, sb metadata.SnapBlob) error {
	if l.Digest != l.DiffID || l.Size != sb.Size {
		return fmt.Errorf("layer %s: a snapshot-kept layer is an uncompressed tar", l.Digest)
	}
	return s.Meta.Update(func(tx *metadata.Tx) error {
		if err := tx.Put(metadata.BucketSnapBlobs, l.Digest.String(), sb); err != nil {
			return err
		}
		return tx.Put(metadata.BucketLayers, l.Digest.String(), l)
	})
}

// SnapBlobs returns the snapshot-kept blobs, by digest.
func (s *Store) SnapBlobs() (map[digest.Digest]metadata.SnapBlob, error) {
	out := map[digest.Digest]metadata.SnapBlob{}
	err := s.Meta.View(func(tx *metadata.Tx) error {
		return forEachSnapBlob(tx, func(d digest.Digest, sb metadata.SnapBlob) error {
			out[d] = sb
			return nil
		})
	})
	return out, err
}

func forEachSnapBlob(tx *metadata.Tx, fn func(digest.Digest, metadata.SnapBlob) error) error {
	return tx.ForEach(metadata.BucketSnapBlobs, func(key string, raw []byte) error {
		var sb metadata.SnapBlob
		if err := json.Unmarshal(raw, &sb); err != nil {
			return fmt.Errorf("metadata %s/%s is damaged: %w", metadata.BucketSnapBlobs, key, err)
		}
		return fn(digest.Digest(key), sb)
	})
}
