package layer

import (
	"crypto/sha256"
	"hash"

	"github.com/opencontainers/go-digest"
)

// Digester hashes and counts what is written to it: the digest and size
// of a tar made without being stored (a diffID, a layer kept as its
// snapshot, a check of one written again).
type Digester struct {
	h hash.Hash
	n int64
}

// NewDigester returns an empty sha256 Digester.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

func (d *Digester) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return d.h.Write(p)
}

// Digest is the sha256 digest of what was written.
func (d *Digester) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, d.h) }

// Size is the number of bytes written.
func (d *Digester) Size() int64 { return d.n }
