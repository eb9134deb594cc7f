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
//     without storing anything: each of its images is an image.Source
//     (Archive.Images, Archive.Image by name or index, OpenImage for one
//     image alone). OpenBlob serves the config, manifest and layer blobs
//     (and any blobs/sha256/<hex> entry of the archive); the reader fails
//     at EOF if the bytes do not match. A docker 20.10 archive has no
//     manifest: its images give the OCI manifest of their config and layers.
//
// Paths inside an archive are confined to it: an entry or a reference with
// "..", an absolute path, a link leaving the archive or a symbolic link
// under blobs/ is refused.
package archive

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
