package analyze

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
)

// WriteJSON writes the whole result, indented.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Short is an instruction as a person reads it: dive's trim of the shell
// prefix, buildkit's "# buildkit" suffix dropped, one line.
func Short(s string) string {
	s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	s = strings.TrimPrefix(s, "RUN /bin/sh -c ")
	s = strings.TrimPrefix(s, "/bin/sh -c ")
	s = strings.TrimSuffix(s, " # buildkit")
	return strings.Join(strings.Fields(s), " ")
}

func count(c Count) string {
	if c.Files == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%s)", c.Files, humanize.Bytes(uint64(c.Bytes)))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// WriteText writes the human report; limit caps each list (0: no cap).
func WriteText(w io.Writer, r *Result, limit int) error {
	cap := func(n int) int {
		if limit > 0 && n > limit {
			return limit
		}
		return n
	}
	fmt.Fprintf(w, "Image: %s\n\n", r.Image)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	packages := len(r.Layers) > 0 && r.Layers[0].Packages != nil
	pkgHead := ""
	if packages {
		pkgHead = "PACKAGES\t"
	}
	fmt.Fprintln(tw, "LAYER\tSIZE\tADDED\tMODIFIED\tREMOVED\tWASTED\t"+pkgHead+"INSTRUCTION")
	for _, l := range r.Layers {
		instr := truncate(Short(l.Instruction), 60)
		if l.OnlyMetadata {
			instr += "  [metadata only]"
		}
		pkgs := ""
		if packages && l.Packages != nil {
			pkgs = fmt.Sprintf("%d\t", *l.Packages)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s%s\n", l.Index, humanize.Bytes(uint64(l.Size)),
			count(l.Added), count(l.Modified), count(l.Removed), humanize.Bytes(uint64(l.WastedBytes)), pkgs, instr)
	}
	tw.Flush()
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\nProblems: %d layers hold entries the store refuses\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}

	fmt.Fprintf(w, "\nImage size:          %s (%d bytes)\n", humanize.Bytes(uint64(r.SizeBytes)), r.SizeBytes)
	fmt.Fprintf(w, "Efficiency:          %.4f %%\n", r.Efficiency*100)
	fmt.Fprintf(w, "Wasted bytes:        %d (%s)\n", r.WastedBytes, humanize.Bytes(uint64(r.WastedBytes)))
	fmt.Fprintf(w, "User wasted percent: %.2f %%\n", float64(r.WastedUserPercent)*100)
	fmt.Fprintln(w, "(efficiency and wasted bytes as dive computes them: every version of a path found twice counts)")

	fmt.Fprintf(w, "\nWasted copies: %d, %s hidden by later layers\n", len(r.WastedCopies), humanize.Bytes(uint64(r.WastedCopyBytes)))
	if len(r.WastedCopies) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  SIZE\tWRITTEN BY\tHIDDEN BY\tHOW\tPATH")
		for _, c := range r.WastedCopies[:cap(len(r.WastedCopies))] {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\n", humanize.Bytes(uint64(c.Size)), c.WrittenBy, c.ReplacedBy, c.How, c.Path)
		}
		tw.Flush()
		if n := len(r.WastedCopies) - cap(len(r.WastedCopies)); n > 0 {
			fmt.Fprintf(w, "  ... and %d more (--format json lists all)\n", n)
		}
	}

	fmt.Fprintf(w, "\nMetadata-only layers: %d\n", len(r.MetadataOnlyLayers))
	for _, l := range r.Layers {
		if l.MetadataOnly.Files == 0 {
			continue
		}
		what := "rewrote"
		if l.OnlyMetadata {
			what = "only rewrote"
		}
		fmt.Fprintf(w, "  layer %d %s %d files (%s) with unchanged content: %s\n", l.Index, what,
			l.MetadataOnly.Files, humanize.Bytes(uint64(l.MetadataOnly.Bytes)), truncate(Short(l.Instruction), 60))
	}

	fmt.Fprintf(w, "\nDuplicated content: %d files shipped in several layers, %s extra\n", len(r.Duplicates), humanize.Bytes(uint64(r.DuplicateBytes)))
	for _, d := range r.Duplicates[:cap(len(r.Duplicates))] {
		var cs []string
		for _, c := range d.Copies {
			cs = append(cs, fmt.Sprintf("%s@%d", c.Path, c.Layer))
		}
		fmt.Fprintf(w, "  %s x%d: %s\n", humanize.Bytes(uint64(d.Size)), len(d.Copies), truncate(strings.Join(cs, " "), 200))
	}
	if n := len(r.Duplicates) - cap(len(r.Duplicates)); n > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", n)
	}
	return nil
}

// TreeMode says what --tree shows.
type TreeMode int

const (
	TreeImage TreeMode = iota // the image up to the layer, every path
	TreeLayer                 // only the paths the layer changed
)

// WriteTree prints the file tree after the last analysed layer (run the
// analysis with Options.UpTo), each path marked with what that layer did
// to it, directories with the size of what is below them.
func WriteTree(w io.Writer, r *Result, mode TreeMode) error {
	k := r.upTo
	t := r.tree
	fmt.Fprintf(w, "Layer %d: %s\n", k, Short(r.Layers[k].Instruction))
	infos := r.treeInfos(mode)
	children := t.children()
	var kids []uint32
	var rec func(i uint32, prefix string) error
	rec = func(i uint32, prefix string) error {
		start := len(kids)
		for _, c := range children.of(i) {
			if infos[c].show {
				kids = append(kids, c)
			}
		}
		mine := kids[start:]
		slices.SortFunc(mine, t.compareNames)
		for j, c := range mine {
			n := t.node(c)
			branch, next := "├── ", "│   "
			if j == len(mine)-1 {
				branch, next = "└── ", "    "
			}
			st := Unchanged
			if n.has(fChanged) {
				st = n.change
			}
			suffix := ""
			if n.isDir() {
				suffix = "/"
			}
			if _, err := fmt.Fprintf(w, "%-9s %8s  %s%s%s\n", st, humanize.Bytes(uint64(infos[c].size)), prefix, branch, string(t.nameOf(n))+suffix); err != nil {
				return err
			}
			if err := rec(c, prefix+next); err != nil {
				return err
			}
		}
		kids = kids[:start]
		return nil
	}
	return rec(0, "")
}
