// Package image is the image model: references, manifests, indexes and
// configs on the opencontainers/image-spec types, in both OCI and Docker
// schema 2 media types.
package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Reference is a normalized image name as docker resolves it:
// "busybox" is docker.io/library/busybox:latest.
type Reference struct {
	named reference.Named
}

// ParseReference parses and normalizes a user-supplied name. A name without
// tag or digest gets :latest.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("invalid reference format: empty name")
	}
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid reference format %q: %v", s, err)
	}
	return Reference{named: reference.TagNameOnly(n)}, nil
}

// ParseTagged parses a name for tagging: a digest is not allowed.
func ParseTagged(s string) (Reference, error) {
	r, err := ParseReference(s)
	if err != nil {
		return r, err
	}
	if _, ok := r.named.(reference.Digested); ok {
		return Reference{}, fmt.Errorf("invalid reference format %q: cannot tag with a digest", s)
	}
	return r, nil
}

// String is the full normalized form: docker.io/library/busybox:latest.
func (r Reference) String() string { return r.named.String() }

// Familiar is the short form docker prints: busybox:latest.
func (r Reference) Familiar() string { return reference.FamiliarString(r.named) }

// Repository is the full repository name: docker.io/library/busybox.
func (r Reference) Repository() string { return r.named.Name() }

// FamiliarRepository is the short repository name: busybox.
func (r Reference) FamiliarRepository() string { return reference.FamiliarName(r.named) }

// Domain is the registry host: docker.io.
func (r Reference) Domain() string { return reference.Domain(r.named) }

// Path is the repository path within the registry: library/busybox.
func (r Reference) Path() string { return reference.Path(r.named) }

// Tag is the tag, or "" for a digest reference.
func (r Reference) Tag() string {
	if t, ok := r.named.(reference.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// Digest is the digest of a name@digest reference, or "".
func (r Reference) Digest() string {
	if d, ok := r.named.(reference.Digested); ok {
		return d.Digest().String()
	}
	return ""
}

// IsDigest reports whether r names a manifest by digest.
func (r Reference) IsDigest() bool { return r.Digest() != "" }

// SplitFamiliar splits a stored full reference into the REPOSITORY and TAG
// (or digest) columns docker prints.
func SplitFamiliar(full string) (repo, tag string) {
	r, err := ParseReference(full)
	if err != nil {
		return full, ""
	}
	if d := r.Digest(); d != "" {
		return r.FamiliarRepository(), d
	}
	return r.FamiliarRepository(), r.Tag()
}

// LooksLikeID reports whether s could be an image ID or an ID prefix.
func LooksLikeID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
