package imagediff

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/docker/go-units"
)

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people: the layers (which are shared), the files
// that differ, as docker diff marks them (A added in B, D deleted in B, C
// changed) and the config fields that differ.
func WriteText(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "A: %s\nB: %s\n\n", nameOrDash(r.A), nameOrDash(r.B))
	var shared, onlyA, onlyB int
	fmt.Fprintln(tw, "LAYER\tA\tB\tDIFF ID\tSIZE")
	for _, l := range r.Layers {
		switch l.Where {
		case Shared:
			shared++
		case OnlyA:
			onlyA++
		case OnlyB:
			onlyB++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Where, index(l.IndexA), index(l.IndexB), short(l.DiffID.String()), humanSize(l.Size))
	}
	fmt.Fprintf(tw, "\n%d shared, %d only in A, %d only in B\n\n", shared, onlyA, onlyB)
	var added, deleted, changed int
	var addedBytes, deletedBytes int64
	fmt.Fprintln(tw, "FILE\tPATH\tSIZE\tCHANGED")
	for _, f := range r.Files {
		size := ""
		switch f.Kind {
		case Added:
			added++
			addedBytes += f.SizeB
			size = humanSize(f.SizeB)
		case Deleted:
			deleted++
			deletedBytes += f.SizeA
			size = humanSize(f.SizeA)
		case Changed:
			changed++
			size = humanSize(f.SizeA) + " -> " + humanSize(f.SizeB)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Kind, f.Path, size, strings.Join(f.What, ","))
	}
	fmt.Fprintf(tw, "\n%d added (%s), %d deleted (%s), %d changed\n", added, humanSize(addedBytes), deleted, humanSize(deletedBytes), changed)
	if len(r.Config) == 0 {
		fmt.Fprintln(tw, "\nconfig: the same")
		return tw.Flush()
	}
	fmt.Fprintln(tw, "\nCONFIG\tA\tB")
	for _, c := range r.Config {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Field, c.A, c.B)
	}
	return tw.Flush()
}

func nameOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func index(i int) string {
	if i < 0 {
		return "-"
	}
	return strconv.Itoa(i)
}

// short is a digest's algorithm and first 12 hex digits, as docker prints
// IDs.
func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }
