package testutil

// BadImage is a stack of layers that no store may accept, because layer
// Bad holds Entry, which the entry rules of every entering layer refuse
// (internal/layer's EntryChecker): the same stacks are tried through
// import (layer Bad alone), load, pull, analyze and fsck.
type BadImage struct {
	Name   string
	Layers [][]Entry
	Bad    int    // the refused layer
	Entry  string // its refused entry
	Reason string // a word of the refusal
}

// badBase is a first layer of a directory, a file, and a symlink to the
// directory.
var badBase = []Entry{Dir("etc/"), File("etc/a", "old"), Dir("real/"), File("real/x", "x"), Symlink("d", "real")}

// BadImages returns the bad stacks: the four of strata's issue 13 (each
// refused by docker 20.10's load too) and the other ways out of the rules.
func BadImages() []BadImage {
	return []BadImage{
		{Name: "hard link to an absolute path no layer has",
			Layers: [][]Entry{badBase, {Hardlink("etc/b", "/nonexistent/abs")}}, Bad: 1, Entry: "etc/b", Reason: "hard link"},
		{Name: "hard link to a lower file a later layer rewrites",
			Layers: [][]Entry{badBase, {Hardlink("etc/b", "etc/a")}, {File("etc/a", "new")}}, Bad: 1, Entry: "etc/b", Reason: "hard link"},
		{Name: "bare whiteout under a symlinked directory",
			Layers: [][]Entry{badBase, {File("d/.wh.", "")}}, Bad: 1, Entry: "d/.wh.", Reason: "whiteout"},
		{Name: "bare whiteout at the top of a layer",
			Layers: [][]Entry{badBase, {File(".wh.", "")}}, Bad: 1, Entry: ".wh.", Reason: "whiteout"},
		{Name: "whiteout of the parent directory",
			Layers: [][]Entry{badBase, {File("etc/.wh...", "")}}, Bad: 1, Entry: "etc/.wh...", Reason: "whiteout"},
		{Name: "entry climbing out of the root",
			Layers: [][]Entry{{File("../../etc/evil", "evil")}}, Bad: 0, Entry: "../../etc/evil", Reason: "leaves the root"},
		{Name: "hard link climbing out of the root",
			Layers: [][]Entry{badBase, {Hardlink("etc/b", "../../etc/passwd")}}, Bad: 1, Entry: "etc/b", Reason: "leaves the root"},
		{Name: "hard link to a directory",
			Layers: [][]Entry{{Dir("x/"), Hardlink("y", "x")}}, Bad: 0, Entry: "y", Reason: "hard link"},
		{Name: "hard link before its target",
			Layers: [][]Entry{{Dir("n/"), Hardlink("n/b", "n/a"), File("n/a", "a")}}, Bad: 0, Entry: "n/b", Reason: "hard link"},
	}
}
