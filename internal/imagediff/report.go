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
	} else {
		fmt.Fprintln(tw, "\nCONFIG\tA\tB")
		for _, c := range r.Config {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Field, c.A, c.B)
		}
	}
	writePackages(tw, r)
	return tw.Flush()
}

// writePackages writes the packages that differ (A added in B, D removed,
// C another version) and, when advisories were matched, the findings
// fixed and added.
func writePackages(w io.Writer, r *Result) {
	var added, removed, changed int
	fmt.Fprintln(w, "\nPACKAGE\tNAME\tVERSION\tTYPE\tPATH")
	for _, p := range r.Packages {
		v := p.VersionA
		switch p.Kind {
		case Added:
			added++
			v = p.VersionB
		case Deleted:
			removed++
		case Changed:
			changed++
			v = p.VersionA + " -> " + p.VersionB
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Kind, p.Name, v, p.Ecosystem, p.Path)
	}
	fmt.Fprintf(w, "\n%d packages added, %d removed, %d changed\n", added, removed, changed)
	if r.Findings == nil {
		return
	}
	var fixed, found int
	fmt.Fprintln(w, "\nFINDING\tID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED\tIN B")
	for _, f := range r.Findings {
		inB := fmt.Sprintf("layer %d", f.ShippedInB)
		switch {
		case f.Change == "added":
			found++
		case f.ShippedInB >= 0:
			fixed++
			inB = fmt.Sprintf("still shipped in layer %d", f.ShippedInB)
		default:
			fixed++
			inB = "gone"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Change, f.ID, f.Severity, f.Package, f.Installed, nameOrDash(f.Fixed), inB)
	}
	fmt.Fprintf(w, "\n%d findings fixed in B's final filesystem, %d added\n", fixed, found)
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
