package analyze

import (
	"strings"

	xansi "github.com/charmbracelet/x/ansi"
)

// The TUI draws with plain SGR sequences and box-drawing characters
// rather than lipgloss: lipgloss v2's package-level Writer works out the
// terminal's colours when the package initialises, in every strata
// command (it reads the terminfo file, and inside tmux runs `tmux info`).

// sgr is a text style: the parameters of one SGR sequence.
type sgr string

const (
	sgrBold    sgr = "1"
	sgrFaint   sgr = "2"
	sgrReverse sgr = "7"
	sgrRed     sgr = "31"
	sgrGreen   sgr = "32"
	sgrYellow  sgr = "33"
	sgrBlue    sgr = "34"
)

const sgrReset = "\x1b[m"

// render styles s, styled text inside it included: a reset inside s is
// followed by this style again.
func (p sgr) render(s string) string {
	on := "\x1b[" + string(p) + "m"
	return on + strings.ReplaceAll(s, sgrReset, sgrReset+on) + sgrReset
}

// box draws lines in a single-line border, w x h inside: each line cut or
// padded to w columns, and blank lines added up to h. The border takes
// style edge ("" for none).
func box(lines []string, w, h int, edge sgr) []string {
	paint := func(s string) string {
		if edge == "" {
			return s
		}
		return edge.render(s)
	}
	out := []string{paint("┌" + strings.Repeat("─", w) + "┐")}
	for i := 0; i < max(h, len(lines)); i++ {
		l := ""
		if i < len(lines) {
			l = xansi.Truncate(lines[i], w, "")
		}
		out = append(out, paint("│")+l+strings.Repeat(" ", w-xansi.StringWidth(l))+paint("│"))
	}
	return append(out, paint("└"+strings.Repeat("─", w)+"┘"))
}

// besideEachOther joins two boxes line by line, top-aligned: below the
// shorter one, blanks of its width.
func besideEachOther(a, b []string) string {
	out := make([]string, max(len(a), len(b)))
	for i := range out {
		out[i] = lineOr(a, i) + lineOr(b, i)
	}
	return strings.Join(out, "\n")
}

// lineOr is line i of a box, or blanks as wide as the box.
func lineOr(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return strings.Repeat(" ", xansi.StringWidth(lines[0]))
}
