package metadata

import (
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is the record of one stored image. Its ID is the digest of its
// config, as in docker and podman, so the same image has the same ID in all
// three.
type Image struct {
	ID          digest.Digest      `json:"id"`
	Manifest    ocispec.Descriptor `json:"manifest"` // the stored manifest blob
	Config      ocispec.Descriptor `json:"config"`
	Layers      []Layer            `json:"layers"`
	RepoDigests []string           `json:"repoDigests,omitempty"` // full name@digest
	Created     time.Time          `json:"created"`               // from the config
	Added       time.Time          `json:"added"`                 // when stored here
	LastTagTime time.Time          `json:"lastTagTime,omitempty"`
	// Parent is the image a build or commit started from, when known.
	Parent digest.Digest `json:"parent,omitempty"`
}

// Layer is a layer blob and what its tar holds.
type Layer struct {
	Digest           digest.Digest `json:"digest"` // blob
	DiffID           digest.Digest `json:"diffID"` // uncompressed tar
	Size             int64         `json:"size"`
	UncompressedSize int64         `json:"uncompressedSize"`
	// ContentSize is what the layer unpacks to, counted as docker counts
	// a layer's size (layer.EntryChecker.ContentSize), recorded when the
	// layer entered the store; -1 in a record older than the field (see
	// Unpacked).
	ContentSize int64  `json:"contentSize"`
	MediaType   string `json:"mediaType"`
}

// UnmarshalJSON reads a record; one written before ContentSize existed
// gets -1 there, not 0 (a layer of directories only unpacks to 0 bytes).
func (l *Layer) UnmarshalJSON(b []byte) error {
	type plain Layer
	r := struct {
		*plain
		ContentSize *int64 `json:"contentSize"`
	}{plain: (*plain)(l)}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	l.ContentSize = -1
	if r.ContentSize != nil {
		l.ContentSize = *r.ContentSize
	}
	return nil
}

// Unpacked is the layer's size as docker shows it: what it unpacks to, or
// for a record older than ContentSize the bytes of its tar.
func (l *Layer) Unpacked() int64 {
	if l.ContentSize < 0 {
		return l.UncompressedSize
	}
	return l.ContentSize
}

// SnapBlob is a layer blob that has no file in the blob store: a build
// kept the layer only as the committed snapshot its command ran in, and
// its tar is written from that snapshot whenever it is read. Digest and
// size are those of the tar (the blob is uncompressed: digest = diffID).
type SnapBlob struct {
	Driver   string `json:"driver"`   // storage driver of the snapshot
	Snapshot string `json:"snapshot"` // its key: the layer's chain ID
	Size     int64  `json:"size"`
	// Exclude is what the diff left out (runtime and build mount points).
	Exclude []string `json:"exclude,omitempty"`
}

// Converted is a layer blob made from another blob of the same layer in
// another compression (push and save --compression-format): the blob has
// its own Layer record; this one says which blob is the layer DiffID in
// Compression, so the next push or save of it compresses nothing. The
// blob lives while some live blob has the same diffID (see store.GC).
type Converted struct {
	DiffID      digest.Digest `json:"diffID"`
	Compression string        `json:"compression"` // "gzip", "zstd"
	Digest      digest.Digest `json:"digest"`      // the converted blob
}

// ConvertedKey is the key of the Converted record of layer diffID in a
// compression.
func ConvertedKey(diffID digest.Digest, compression string) string {
	return diffID.String() + " " + compression
}

// Size is the unpacked size of an image: what docker's SIZE column shows.
func (im *Image) Size() int64 {
	var n int64
	for _, l := range im.Layers {
		n += l.Unpacked()
	}
	return n
}

// DiffIDs lists the image's layer diffIDs, bottom first.
func (im *Image) DiffIDs() []digest.Digest {
	out := make([]digest.Digest, len(im.Layers))
	for i, l := range im.Layers {
		out[i] = l.DiffID
	}
	return out
}

// Blobs lists every blob the image needs: manifest, config and layers.
func (im *Image) Blobs() []digest.Digest {
	out := []digest.Digest{im.Manifest.Digest, im.Config.Digest}
	for _, l := range im.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// Roots is the shape every record in the containers, cache and leases
// buckets shares with its own fields: the blobs, images and snapshot it
// keeps alive.
// Garbage collection decodes each record of those buckets into Roots, so a
// new kind of record protects what it needs by filling these fields.
type Roots struct {
	Blobs  []digest.Digest `json:"blobs,omitempty"`
	Images []digest.Digest `json:"images,omitempty"`
	// Snapshot keeps a snapshot and its parents (a container's read-write
	// snapshot).
	Snapshot string `json:"snapshot,omitempty"`
}

// Index is the record of a stored multi-platform image: an index (OCI
// image index or Docker manifest list) blob whose entries are images of
// the store. A name may point at it (the names bucket holds its digest
// instead of an image ID); its entries are image records of their own,
// usually without names, that live while the index does.
type Index struct {
	Digest      digest.Digest `json:"digest"` // the index blob
	MediaType   string        `json:"mediaType"`
	Size        int64         `json:"size"`
	Entries     []IndexEntry  `json:"entries"`
	RepoDigests []string      `json:"repoDigests,omitempty"`
	Added       time.Time     `json:"added"`
}

// IndexEntry is one platform's image of an Index.
type IndexEntry struct {
	Platform ocispec.Platform `json:"platform"`
	Manifest digest.Digest    `json:"manifest"`
	Image    digest.Digest    `json:"image"` // the image record (config digest)
}

// Images lists the image IDs of the index's entries.
func (ix *Index) Images() []digest.Digest {
	out := make([]digest.Digest, len(ix.Entries))
	for i, e := range ix.Entries {
		out[i] = e.Image
	}
	return out
}
