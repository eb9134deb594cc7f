// Package archive reads and writes image archives: docker-archive (what
// `docker save` writes, both the 20.10 layout of <id>/layer.tar directories
// and the 25+ layout of an OCI image layout plus manifest.json) and
// oci-archive (an OCI image layout in a tar), and OCI layout directories.
//
// Three entry points:
//
//   - Save writes stored images as a docker-archive or an oci-archive, in
//     one streaming pass, deterministically (sorted entries, fixed times).
//
//   - Load reads an archive in one streaming pass (so stdin works), storing
//     each blob as it streams by, and at the end assembles and commits each
//     image with store.AddImage. Nothing becomes visible before every image
//     of the archive was checked.
//
//   - Open gives read access to an archive file or an OCI layout directory
//     without storing anything (the analysis feature uses it):
//
//     type Source interface {
//     Images() []Image
//     OpenBlob(d digest.Digest) (io.ReadCloser, error)
//     Close() error
//     }
//
//     Image is {Names, Config, ConfigDigest, ManifestDigest, Layers} and
//     Layer is {Digest, DiffID, MediaType, Size}. OpenBlob serves the
//     config and layer blobs of the images (and any blobs/sha256/<hex>
//     entry of the archive); the reader it returns fails at EOF if the
//     bytes do not match d.
//
// Paths inside an archive are confined to it: an entry or a reference with
// "..", an absolute path, a link leaving the archive or a symbolic link
// under blobs/ is refused.
package archive

import (
	"io"

	"github.com/opencontainers/go-digest"
)

// Format is an archive format.
type Format string

const (
	DockerArchive Format = "docker-archive"
	OCIArchive    Format = "oci-archive"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case DockerArchive, "docker", "":
		return DockerArchive, nil
	case OCIArchive, "oci":
		return OCIArchive, nil
	}
	return "", &formatError{s}
}

type formatError struct{ s string }

func (e *formatError) Error() string {
	return "unknown archive format " + e.s + " (want docker-archive or oci-archive)"
}

// Source is read access to the images of an archive or layout.
type Source interface {
	// Images lists the images, in the archive's order.
	Images() []Image
	// OpenBlob reads a blob; the reader fails at EOF if the bytes do not
	// match d.
	OpenBlob(d digest.Digest) (io.ReadCloser, error)
	Close() error
}

// Image is one image of a Source.
type Image struct {
	// Names are full references (docker.io/library/busybox:latest).
	Names []string
	// Config is the config blob, byte-exact; ConfigDigest its digest (the
	// image ID).
	Config       []byte
	ConfigDigest digest.Digest
	// ManifestDigest is the digest of the image's OCI/Docker manifest when
	// the archive holds one (oci-archive, docker 25+), else "".
	ManifestDigest digest.Digest
	// Layers bottom first.
	Layers []Layer
}

// Layer is one layer of an Image.
type Layer struct {
	Digest    digest.Digest // of the blob as stored in the archive
	DiffID    digest.Digest // of its uncompressed tar
	MediaType string
	Size      int64 // bytes of the blob
}
