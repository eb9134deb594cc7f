package cache

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// maxFiles bounds the per-file checksums a key keeps for explaining; more
// files are summarised by directory.
const maxFiles = 2000

// Summarise reduces a path -> checksum map to at most maxFiles entries by
// folding the deepest paths into their directories ("dir/" -> checksum of
// what it holds), so a miss still names where the change is.
func Summarise(files map[string]string) map[string]string {
	for len(files) > maxFiles {
		depth := 0
		for p := range files {
			if d := strings.Count(strings.TrimSuffix(p, "/"), "/"); d > depth {
				depth = d
			}
		}
		if depth == 0 {
			return nil // too many top-level entries: Sources alone tells
		}
		folded := map[string][]string{}
		out := map[string]string{}
		for p, s := range files {
			if strings.Count(strings.TrimSuffix(p, "/"), "/") == depth {
				dir := path.Dir(strings.TrimSuffix(p, "/")) + "/"
				folded[dir] = append(folded[dir], p+"="+s)
			} else {
				out[p] = s
			}
		}
		for dir, entries := range folded {
			sort.Strings(entries)
			out[dir] = digestOf(strings.Join(append(entries, out[dir]), "\n"))
		}
		files = out
	}
	return files
}

func digestOf(s string) string {
	k := Key{Instruction: s}
	return k.Digest()[:16]
}

// Explain says why key k has no record, comparing it with the recorded
// keys (only those of origin, Record.Origin, unless origin is ""). parent
// is the key of the step before when it is a stage's base (nil otherwise):
// a first step can then say that the base image changed.
func Explain(k Key, parent *Key, all map[string]*Record, origin string) string {
	var siblings []*Record
	for _, r := range all {
		if r.Key.Parent == k.Parent && k.Parent != "" && (origin == "" || r.Origin == origin) {
			siblings = append(siblings, r)
		}
	}
	if len(siblings) == 0 {
		if parent != nil && parent.Base != "" {
			for _, r := range all {
				b := r.Key
				if b.Base == parent.Base && b.BaseID != parent.BaseID && b.Platform == parent.Platform {
					return fmt.Sprintf("base image %s changed: was %s, now %s", parent.Base, short(b.BaseID), short(parent.BaseID))
				}
			}
			return fmt.Sprintf("no cache for base %s (%s) yet", parent.Base, short(parent.BaseID))
		}
		return "no earlier build of this step"
	}
	// The closest sibling: same instruction if any, the most recent
	// otherwise.
	sort.Slice(siblings, func(i, j int) bool {
		si, sj := siblings[i].Key.Instruction == k.Instruction, siblings[j].Key.Instruction == k.Instruction
		if si != sj {
			return si
		}
		return siblings[i].LastUsed.After(siblings[j].LastUsed)
	})
	old := siblings[0].Key
	var why []string
	if old.Instruction != k.Instruction {
		why = append(why, fmt.Sprintf("instruction changed: was %q", old.Instruction))
	}
	if old.Platform != k.Platform {
		why = append(why, fmt.Sprintf("platform changed: %s -> %s", old.Platform, k.Platform))
	}
	why = append(why, argChanges(old.Args, k.Args)...)
	if old.Sources != k.Sources {
		fc := fileChanges(old.Files, k.Files)
		if len(fc) == 0 {
			fc = []string{"source files changed"}
		}
		why = append(why, fc...)
	}
	if len(why) == 0 {
		return "no record with these inputs (pruned?)"
	}
	return strings.Join(why, "; ")
}

func argChanges(old, cur map[string]string) []string {
	var out []string
	for _, n := range sortedKeys(old, cur) {
		o, had := old[n]
		c, has := cur[n]
		switch {
		case had && !has:
			out = append(out, fmt.Sprintf("build arg %s removed (was %q)", n, o))
		case !had && has:
			out = append(out, fmt.Sprintf("build arg %s added (%q)", n, c))
		case o != c:
			out = append(out, fmt.Sprintf("build arg %s changed: %q -> %q", n, o, c))
		}
	}
	return out
}

// fileChanges lists the paths whose checksum changed, at most a few.
func fileChanges(old, cur map[string]string) []string {
	var out []string
	for _, p := range sortedKeys(old, cur) {
		o, had := old[p]
		c, has := cur[p]
		switch {
		case had && !has:
			out = append(out, fmt.Sprintf("file %s removed", p))
		case !had && has:
			out = append(out, fmt.Sprintf("file %s added", p))
		case o != c && strings.HasPrefix(p, "git ref "):
			// An ADD of a git repository: its entry is the commit.
			out = append(out, fmt.Sprintf("%s moved from %s to %s", p, shortCommit(o), shortCommit(c)))
		case o != c:
			out = append(out, fmt.Sprintf("file %s changed", p))
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more files", len(out)-5))
	}
	return out
}

func sortedKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func short(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 && len(id) > i+13 {
		return id[:i+13]
	}
	return id
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
