// Package dockerignore reads .dockerignore files and decides which paths of
// a build context a build may see, with docker's semantics: patterns of
// moby/patternmatcher (the field standard, so `**`, `!` exceptions and the
// last-match-wins rule behave exactly as in docker and BuildKit), read with
// its ignorefile reader.
package dockerignore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Read parses an ignore file: one pattern per line, # comments, blank
// lines skipped, paths cleaned and made relative to the context.
func Read(r io.Reader) ([]string, error) {
	ps, err := ignorefile.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	return ps, nil
}

// Load finds the ignore file of a build: DOCKERFILE.dockerignore next to
// the Dockerfile wins over CONTEXT/.dockerignore, as in BuildKit. It
// returns the patterns and the file they came from ("" when there is none).
func Load(contextDir, dockerfile string) ([]string, string, error) {
	var candidates []string
	if dockerfile != "" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	if contextDir != "" {
		candidates = append(candidates, filepath.Join(contextDir, ".dockerignore"))
	}
	for _, p := range candidates {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		ps, err := Read(f)
		f.Close()
		return ps, p, err
	}
	return nil, "", nil
}

// Matcher decides whether context paths are excluded.
type Matcher struct {
	pm *patternmatcher.PatternMatcher
}

// New compiles patterns; nil patterns exclude nothing.
func New(patterns []string) (*Matcher, error) {
	if len(patterns) == 0 {
		return &Matcher{}, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("invalid .dockerignore pattern: %w", err)
	}
	return &Matcher{pm: pm}, nil
}

// Empty reports whether the matcher excludes nothing.
func (m *Matcher) Empty() bool { return m == nil || m.pm == nil }

// Exclusions reports whether some pattern re-includes paths (`!`): then an
// excluded directory must still be walked, as something below may be
// included again.
func (m *Matcher) Exclusions() bool { return !m.Empty() && m.pm.Exclusions() }

// State is the match result of a directory, passed down to its children
// so that each path is matched once (MatchesUsingParentResults).
type State = patternmatcher.MatchInfo

// Match reports whether rel (slash-separated, relative to the context) is
// excluded, given the state of its parent directory; it returns the state
// to pass to rel's children.
func (m *Matcher) Match(rel string, parent State) (bool, State, error) {
	if m.Empty() {
		return false, State{}, nil
	}
	return m.pm.MatchesUsingParentResults(filepath.FromSlash(strings.TrimPrefix(rel, "/")), parent)
}

// Excluded reports whether rel is excluded, matching its parents first;
// for one-off checks (the walk uses Match).
func (m *Matcher) Excluded(rel string) (bool, error) {
	if m.Empty() {
		return false, nil
	}
	rel = strings.Trim(filepath.ToSlash(filepath.Clean("/"+rel)), "/")
	if rel == "" {
		return false, nil
	}
	var st State
	var ex bool
	parts := strings.Split(rel, "/")
	for i := range parts {
		var err error
		ex, st, err = m.Match(strings.Join(parts[:i+1], "/"), st)
		if err != nil {
			return false, err
		}
	}
	return ex, nil
}
