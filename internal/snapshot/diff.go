package snapshot

import (
	"fmt"
	"io"
	"os"

	"github.com/strata-dev/strata/internal/layer"
)

// WriteDiff writes the layer tar of the committed snapshot key: the
// changes its own files make on its parent. For a snapshot committed from
// a container's read-write snapshot this is byte for byte the tar that was
// written from that container's changes with the same options: the diff
// writers are deterministic (sorted entries, times and owners from the
// files) and a committed snapshot never changes. That lets a built layer
// be kept once, as its snapshot, and written as a tar only when something
// reads it (push, save); the reader checks the digest it was recorded with.
func WriteDiff(sn Snapshotter, w io.Writer, key string, opts layer.DiffOptions) error {
	var b *base
	overlay := false
	switch s := sn.(type) {
	case *Overlay:
		b, overlay = s.base, true
	case *VFS:
		b = s.base
	default:
		return fmt.Errorf("storage driver %s cannot write a snapshot's diff", sn.Driver())
	}
	in, err := b.Stat(key)
	if err != nil {
		return err
	}
	if in.Kind != KindCommitted {
		return fmt.Errorf("snapshot %s is %s, not committed", key, in.Kind)
	}
	chain, err := b.parents(key)
	if err != nil {
		return err
	}
	upper := b.fsDir(key)
	if overlay {
		// The lowers by their own directories, not the short links or
		// flattened snapshots a mount would use: only what they hold
		// matters to the diff.
		lowers := make([]string, 0, len(chain)-1)
		for _, p := range chain[1:] {
			lowers = append(lowers, b.fsDir(p))
		}
		return layer.WriteDiffFromUpper(w, upper, lowers, opts)
	}
	lower := ""
	if in.Parent != "" {
		lower = b.fsDir(in.Parent)
	} else {
		empty, err := os.MkdirTemp(b.root, "empty-")
		if err != nil {
			return err
		}
		defer os.Remove(empty)
		lower = empty
	}
	return layer.WriteDiffFromTrees(w, lower, upper, opts)
}

// Parents lists the committed snapshot key and the snapshots below it,
// key first: what WriteDiff reads.
func Parents(sn Snapshotter, key string) ([]string, error) {
	switch s := sn.(type) {
	case *Overlay:
		return s.parents(key)
	case *VFS:
		return s.parents(key)
	}
	return nil, fmt.Errorf("storage driver %s has no parents", sn.Driver())
}
