package vuln

import (
	"fmt"
	"strings"
)

// pyVersion is a Python package version as PEP 440 reads it, reduced to
// what orders it. In-house rather than github.com/aquasecurity/go-pep440-version,
// which compiled its regexp in an init function, at every strata start
// (~0.3 ms) whatever the command; the tests keep the library as the
// reference this parser must agree with (pep440_test.go).
//
// Numbers are kept as their decimal digits without leading zeros ("" is
// 0), so that any size compares (PEP 440 sets no limit; pip's packaging
// reads them as Python ints).
type pyVersion struct {
	epoch   string
	release []string // trailing zeros dropped: 1.0 == 1.0.0
	pre     string   // "a", "b", "rc", or "" for none
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   []string // lower case, split at '.', '-' and '_'; nil for none
}

// The spellings PEP 440 normalises ("Pre-release spelling", "Post
// release spelling"), longest first so that "preview" is not read as
// "pre" followed by "view".
type spelling struct{ spelling, norm string }

var (
	prePEP440 = []spelling{
		{"preview", "rc"}, {"alpha", "a"}, {"beta", "b"}, {"pre", "rc"}, {"rc", "rc"}, {"a", "a"}, {"b", "b"}, {"c", "rc"},
	}
	postPEP440 = []spelling{{"post", "post"}, {"rev", "post"}, {"r", "post"}}
	devPEP440  = []spelling{{"dev", "dev"}}
)

// parsePEP440 reads a version in any form PEP 440 accepts and normalises
// ("Normalization": case, a leading "v", separators "-", "_" or "."
// around pre-, post- and dev-release tags or none, alternate spellings,
// implicit numbers, "1.0-1" as a post-release, surrounding whitespace).
// It accepts what packaging's VERSION_PATTERN accepts, parsed the same
// way where the pattern is ambiguous ("1.0a-1" is 1.0a1, not 1.0a0.post1).
func parsePEP440(s string) (*pyVersion, error) {
	// Whitespace as the library's \s, which the tests compare with.
	p := &pep440Scanner{s: asciiLower(strings.Trim(s, " \t\n\f\r"))}
	bad := func() (*pyVersion, error) { return nil, fmt.Errorf("%q is not a PEP 440 version", s) }
	v := &pyVersion{}
	p.eat("v")
	n, ok := p.number()
	if !ok {
		return bad()
	}
	if p.eat("!") {
		v.epoch = n
		if n, ok = p.number(); !ok {
			return bad()
		}
	}
	v.release = []string{n}
	for p.dotNumber() {
		n, _ = p.number()
		v.release = append(v.release, n)
	}
	for len(v.release) > 0 && v.release[len(v.release)-1] == "" {
		v.release = v.release[:len(v.release)-1]
	}

	// Each optional part: an optional separator, the tag, an optional
	// separator, an optional number, as in packaging's pattern; a
	// separator taken with no number after it changes nothing that
	// follows, since every later part may begin with one.
	if pre, ok := p.tag(prePEP440); ok {
		v.pre, v.preN = pre, p.optNumber()
	}
	mark := p.i
	if p.eat("-") {
		if n, ok := p.number(); ok { // "1.0-1": the implicit post-release
			v.post, v.postN = true, n
		} else {
			p.i = mark
		}
	}
	if !v.post {
		if _, ok := p.tag(postPEP440); ok {
			v.post, v.postN = true, p.optNumber()
		}
	}
	if _, ok := p.tag(devPEP440); ok {
		v.dev, v.devN = true, p.optNumber()
	}
	if p.eat("+") {
		// Local segments: ASCII letters and digits, one separator of
		// '.', '-' or '_' between two, each meaning '.'.
		for {
			start := p.i
			for p.i < len(p.s) && isAlnum(p.s[p.i]) {
				p.i++
			}
			if p.i == start {
				return bad()
			}
			v.local = append(v.local, p.s[start:p.i])
			if p.i == len(p.s) || !isSep(p.s[p.i]) {
				break
			}
			p.i++
		}
	}
	if p.i != len(p.s) {
		return bad()
	}
	return v, nil
}

// comparePEP440 orders two Python versions by PEP 440's rules, as
// packaging's _cmpkey: epoch, release, then a pre-release before its
// release (and a bare dev release before its pre-releases), a
// post-release after it, a dev release before the release it precedes,
// and a local version after its public one.
var comparePEP440 = byParsing(parsePEP440, (*pyVersion).compare)

func (v *pyVersion) compare(w *pyVersion) int {
	if c := compareNum(v.epoch, w.epoch); c != 0 {
		return c
	}
	for i := range max(len(v.release), len(w.release)) {
		if c := compareNum(at(v.release, i), at(w.release, i)); c != 0 {
			return c
		}
	}
	if c := v.preRank() - w.preRank(); c != 0 {
		return c
	}
	if c := strings.Compare(v.pre, w.pre); c != 0 { // "a" < "b" < "rc"
		return c
	}
	if c := compareNum(v.preN, w.preN); c != 0 {
		return c
	}
	if c := compareFlag(v.post, w.post); c != 0 {
		return c
	}
	if c := compareNum(v.postN, w.postN); c != 0 {
		return c
	}
	if c := compareFlag(!v.dev, !w.dev); c != 0 { // no dev release sorts last
		return c
	}
	if c := compareNum(v.devN, w.devN); c != 0 {
		return c
	}
	if c := compareFlag(v.local != nil, w.local != nil); c != 0 {
		return c
	}
	// Local segments: numeric ones by value and after any alphanumeric
	// one, alphanumeric ones as strings; a prefix sorts first.
	for i := range min(len(v.local), len(w.local)) {
		x, y := v.local[i], w.local[i]
		nx, ny := isDigits(x), isDigits(y)
		if c := compareFlag(nx, ny); c != 0 {
			return c
		}
		c := strings.Compare(x, y)
		if nx {
			c = compareNum(strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0"))
		}
		if c != 0 {
			return c
		}
	}
	return len(v.local) - len(w.local)
}

// preRank places a version among the releases of its release number:
// 1.0.dev1 (-1) before 1.0a1 (0) before 1.0 and 1.0.post1 (1). A dev
// release of a pre-release or post-release ranks as those do.
func (v *pyVersion) preRank() int {
	switch {
	case v.pre != "":
		return 0
	case !v.post && v.dev:
		return -1
	}
	return 1
}

type pep440Scanner struct {
	s string
	i int
}

func (p *pep440Scanner) eat(prefix string) bool {
	if strings.HasPrefix(p.s[p.i:], prefix) {
		p.i += len(prefix)
		return true
	}
	return false
}

// number reads decimal digits, returned without their leading zeros.
func (p *pep440Scanner) number() (string, bool) {
	start := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	return strings.TrimLeft(p.s[start:p.i], "0"), p.i > start
}

// dotNumber reads the '.' of another release number.
func (p *pep440Scanner) dotNumber() bool {
	if p.i+1 < len(p.s) && p.s[p.i] == '.' && isDigit(p.s[p.i+1]) {
		p.i++
		return true
	}
	return false
}

// tag reads an optional separator and one of the spellings, then an
// optional separator; nothing if no spelling follows.
func (p *pep440Scanner) tag(spellings []spelling) (string, bool) {
	start := p.i
	if p.i < len(p.s) && isSep(p.s[p.i]) {
		p.i++
	}
	for _, sp := range spellings {
		if p.eat(sp.spelling) {
			if p.i < len(p.s) && isSep(p.s[p.i]) {
				p.i++
			}
			return sp.norm, true
		}
	}
	p.i = start
	return "", false
}

// optNumber is the number after a tag, 0 if none ("1.0a" is 1.0a0).
func (p *pep440Scanner) optNumber() string {
	n, _ := p.number()
	return n
}

// compareNum orders decimal numbers without leading zeros.
func compareNum(a, b string) int {
	if c := len(a) - len(b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// compareFlag orders false before true.
func compareFlag(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// asciiLower lowers ASCII letters only: PEP 440 is case-insensitive for
// ASCII, and strings.ToLower would make the Kelvin sign a "k".
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'z' }
func isSep(c byte) bool   { return c == '.' || c == '-' || c == '_' }

func isDigits(s string) bool { return strings.Trim(s, "0123456789") == "" }
