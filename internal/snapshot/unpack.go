package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
)

// Layer is a layer blob to unpack and the diffID its tar must have.
type Layer struct {
	Blob   digest.Digest
	DiffID digest.Digest
}

// Opener opens a layer blob.
type Opener func(blob digest.Digest) (io.ReadCloser, error)

// Unpack makes sure every layer of an image has its committed snapshot,
// named by its chain ID, and returns the top one ("" for no layers).
// Layers already unpacked (by this image or any other) are skipped. Each
// missing one is applied into a fresh active snapshot, checked against its
// diffID and committed: a crash leaves only an uncommitted snapshot, and
// when two processes unpack the same layer at once, one commit wins and
// the other drops its copy. Callers hold the store's writer lock.
func Unpack(ctx context.Context, sn Snapshotter, open Opener, layers []Layer) (string, error) {
	diffIDs := make([]digest.Digest, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.DiffID
	}
	chains := image.ChainIDs(diffIDs)
	parent := ""
	for i, l := range layers {
		c := chains[i].String()
		if in, err := sn.Stat(c); err == nil && in.Kind == KindCommitted {
			parent = c
			continue
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return "", err
		}
		if err := unpackOne(ctx, sn, open, l, parent, c); err != nil {
			return "", fmt.Errorf("unpack layer %s: %w", l.Blob, err)
		}
		parent = c
	}
	return parent, nil
}

func unpackOne(ctx context.Context, sn Snapshotter, open Opener, l Layer, parent, chain string) error {
	key := randomName("unpack-")
	if _, err := sn.Prepare(key, parent); err != nil {
		return err
	}
	if err := applyInto(ctx, sn, key, open, l); err != nil {
		sn.Remove(key)
		return err
	}
	err := sn.Commit(chain, key)
	if errors.Is(err, ErrExists) {
		// Another process unpacked it first: use theirs.
		return sn.Remove(key)
	}
	if err != nil {
		sn.Remove(key)
	}
	return err
}

// applyInto writes the layer into the active snapshot key and checks
// its diffID.
func applyInto(ctx context.Context, sn Snapshotter, key string, open Opener, l Layer) error {
	rc, err := open(l.Blob)
	if err != nil {
		return err
	}
	defer rc.Close()
	st := layer.NewStream(rc)
	defer st.Close()
	if err := sn.Apply(ctx, key, st); err != nil {
		return err
	}
	got, _, err := st.Finish()
	if err != nil {
		return err
	}
	if got != l.DiffID {
		return fmt.Errorf("layer unpacks to %s, the image says %s", got, l.DiffID)
	}
	return nil
}
