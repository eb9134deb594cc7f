// Package image is the image model: references, manifests, indexes and
// configs on the opencontainers/image-spec types, in both OCI and Docker
// schema 2 media types.
package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Reference is a normalized image name as docker resolves it:
// "busybox" is docker.io/library/busybox:latest.
//
// The grammar and the normalization are those of
// github.com/distribution/reference (ParseNormalizedNamed, TagNameOnly),
// written out by hand: that package compiles a dozen regular expressions in
// its init, most of the start-up time of a fully cached build. A test and
// a fuzz target check this parser against it.
type Reference struct {
	domain, path, tag, digest string
}

// The errors distribution/reference returns.
var (
	errReferenceInvalidFormat = errors.New("invalid reference format")
	errNameContainsUppercase  = errors.New("repository name must be lowercase")
	errNameTooLong            = errors.New("repository name must not be more than 255 characters")
)

const (
	defaultDomain       = "docker.io"
	legacyDefaultDomain = "index.docker.io"
	officialRepoPrefix  = "library/"
)

// ParseReference parses and normalizes a user-supplied name. A name without
// tag or digest gets :latest.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, errdefs.InvalidArgument(fmt.Errorf("invalid reference format: empty name"))
	}
	r, err := parseNormalizedNamed(s)
	if err != nil {
		if strings.HasPrefix(err.Error(), errReferenceInvalidFormat.Error()) {
			// Said as docker says it ("invalid reference format:
			// repository name (library/UPPER) must be lowercase").
			return Reference{}, errdefs.InvalidArgument(err)
		}
		return Reference{}, errdefs.InvalidArgument(fmt.Errorf("invalid reference format %q: %v", s, err))
	}
	if r.tag == "" && r.digest == "" {
		r.tag = "latest"
	}
	return r, nil
}

// parseNormalizedNamed is distribution/reference's ParseNormalizedNamed.
func parseNormalizedNamed(s string) (Reference, error) {
	if len(s) == 64 && isLowerHex(s) {
		return Reference{}, errdefs.InvalidArgument(fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s))
	}
	domain, remainder := splitDockerDomain(s)
	remote := remainder
	if i := strings.IndexByte(remainder, ':'); i > -1 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return Reference{}, errdefs.InvalidArgument(fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", remote))
	}
	full := domain + "/" + remainder
	r, ok := parseGrammar(full)
	if !ok {
		// ReferenceRegexp's domain is optional: a "domain" that is not
		// one ("my_reg.local") may still make a path with the rest, and
		// distribution/reference then returns a name without a domain.
		if p, pok := parseGrammar("d/" + full); pok {
			r, ok = p, true
			r.domain = ""
		}
	}
	if !ok {
		if parseGrammarOK(strings.ToLower(full)) {
			return Reference{}, errNameContainsUppercase
		}
		return Reference{}, errReferenceInvalidFormat
	}
	if len(r.path) > 255 {
		return Reference{}, errNameTooLong
	}
	if r.digest != "" {
		d, err := digest.Parse(r.digest)
		if err != nil {
			return Reference{}, err
		}
		r.digest = d.String()
	}
	return r, nil
}

// parseGrammarOK tells whether s matches ReferenceRegexp itself, whose
// domain is optional: "0_0a0/0" is no domain and a path, but a path.
func parseGrammarOK(s string) bool {
	if _, ok := parseGrammar(s); ok {
		return true
	}
	_, ok := parseGrammar("d/" + s)
	return ok
}

// parseGrammar matches s against distribution/reference's ReferenceRegexp
// with a mandatory domain: domain[:port]/path[:tag][@digest].
func parseGrammar(s string) (Reference, bool) {
	var r Reference
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		name, r.digest = s[:i], s[i+1:]
		if !isDigest(r.digest) {
			return r, false
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, r.tag = name[:i], name[i+1:]
		if !isTag(r.tag) {
			return r, false
		}
	}
	domain, path, ok := strings.Cut(name, "/")
	if !ok || !isDomainAndPort(domain) {
		return r, false
	}
	for _, c := range strings.Split(path, "/") {
		if !isPathComponent(c) {
			return r, false
		}
	}
	r.domain, r.path = domain, path
	return r, true
}

// splitDockerDomain is distribution/reference's (v0.6.0).
func splitDockerDomain(name string) (domain, remote string) {
	maybeDomain, maybeRemote, ok := strings.Cut(name, "/")
	if !ok {
		return defaultDomain, officialRepoPrefix + name
	}
	switch {
	case maybeDomain == "localhost":
		domain, remote = maybeDomain, maybeRemote
	case maybeDomain == legacyDefaultDomain:
		domain, remote = defaultDomain, maybeRemote
	case strings.ContainsAny(maybeDomain, ".:"):
		domain, remote = maybeDomain, maybeRemote
	case strings.ToLower(maybeDomain) != maybeDomain:
		domain, remote = maybeDomain, maybeRemote
	default:
		domain, remote = defaultDomain, name
	}
	if domain == defaultDomain && !strings.ContainsRune(remote, '/') {
		remote = officialRepoPrefix + remote
	}
	return domain, remote
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
func isHex(c byte) bool        { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// isPathComponent: [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
func isPathComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch {
		case s[i] == '_' && i+1 < len(s) && s[i+1] == '_':
			i += 2
		case s[i] == '.' || s[i] == '_':
			i++
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// isDomainAndPort: (?:domainName|\[[a-fA-F0-9:]+\])(?::[0-9]+)?
func isDomainAndPort(s string) bool {
	port := ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 {
			return false
		}
		for i := 1; i < end; i++ {
			if !isHex(s[i]) && s[i] != ':' {
				return false
			}
		}
		port = s[end+1:]
	} else {
		host := s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i:]
		}
		if !isDomainName(host) {
			return false
		}
	}
	if port == "" {
		return true
	}
	if port[0] != ':' || len(port) == 1 {
		return false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// isDomainName: dot-separated [a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?
func isDomainName(s string) bool {
	for _, c := range strings.Split(s, ".") {
		if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
			return false
		}
		for i := 0; i < len(c); i++ {
			if !isAlnum(c[i]) && c[i] != '-' {
				return false
			}
		}
	}
	return true
}

// isTag: [\w][\w.-]{0,127}
func isTag(s string) bool {
	if len(s) == 0 || len(s) > 128 || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWord(s[i]) && s[i] != '.' && s[i] != '-' {
			return false
		}
	}
	return true
}

// isDigest: [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}
func isDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || len(hex) < 32 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if !isHex(hex[i]) {
			return false
		}
	}
	letter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	needLetter := true
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		switch {
		case needLetter:
			if !letter(c) {
				return false
			}
			needLetter = false
		case strings.IndexByte("-_+.", c) >= 0:
			needLetter = true
		case !isAlnum(c):
			return false
		}
	}
	return len(alg) > 0 && !needLetter
}

// ParseTagged parses a name for tagging: a digest is not allowed.
func ParseTagged(s string) (Reference, error) {
	r, err := ParseReference(s)
	if err != nil {
		return r, err
	}
	if r.digest != "" {
		return Reference{}, errdefs.InvalidArgument(fmt.Errorf("invalid reference format %q: cannot tag with a digest", s))
	}
	return r, nil
}

func (r Reference) suffix() string {
	s := ""
	if r.tag != "" {
		s = ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// String is the full normalized form: docker.io/library/busybox:latest.
func (r Reference) String() string { return r.Repository() + r.suffix() }

// Familiar is the short form docker prints: busybox:latest.
func (r Reference) Familiar() string { return r.FamiliarRepository() + r.suffix() }

// Repository is the full repository name: docker.io/library/busybox.
func (r Reference) Repository() string {
	if r.domain == "" {
		return r.path // no domain (see parseNormalizedNamed)
	}
	return r.domain + "/" + r.path
}

// FamiliarRepository is the short repository name: busybox.
func (r Reference) FamiliarRepository() string {
	if r.domain != defaultDomain {
		return r.Repository()
	}
	if rest, ok := strings.CutPrefix(r.path, officialRepoPrefix); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return r.path
}

// Domain is the registry host: docker.io.
func (r Reference) Domain() string { return r.domain }

// Path is the repository path within the registry: library/busybox.
func (r Reference) Path() string { return r.path }

// Tag is the tag, or "" for a digest reference.
func (r Reference) Tag() string { return r.tag }

// Digest is the digest of a name@digest reference, or "".
func (r Reference) Digest() string { return r.digest }

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

// MergeNames returns a's names followed by those of b that a lacks, each
// once (the names an image keeps when it is added again).
func MergeNames(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
