package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newManCmd is the hidden `strata gen-man DIR`: a man page per command
// (strata.1, strata-run.1, strata-container-ls.1...), from the same
// command tree and flags as --help, named and laid out as cobra's doc
// package did. Packagers run it at build time (scripts/man.sh).
func newManCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write strata's man pages into a directory",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			date := time.Now()
			// Reproducible builds set the date of the pages, as cobra's
			// doc package let them.
			if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
				sec, err := strconv.ParseInt(epoch, 10, 64)
				if err != nil {
					return fmt.Errorf("invalid SOURCE_DATE_EPOCH: %v", err)
				}
				date = time.Unix(sec, 0)
			}
			h := manHeader{title: "STRATA", section: "1", date: date.Format("Jan 2006"), source: "strata " + Version, manual: "strata manual"}
			if err := writeManTree(cmd.Root(), h, args[0]); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			return nil
		},
	}
}

// The pages are written here rather than with cobra/doc's GenManTree,
// which went through Markdown (go-md2man, blackfriday): blackfriday's
// package-level regexps were compiled at the start of every strata
// command, gen-man or not.

// manHeader is the .TH line of every page.
type manHeader struct{ title, section, date, source, manual string }

// writeManTree writes the page of c and of each command under it that
// --help lists, into dir, as COMMAND-PATH.SECTION with '-' for ' '.
func writeManTree(c *cobra.Command, h manHeader, dir string) error {
	for _, sub := range manChildren(c) {
		if err := writeManTree(sub, h, dir); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	writeManPage(&b, c, h)
	return os.WriteFile(filepath.Join(dir, manName(c)+"."+h.section), b.Bytes(), 0o644)
}

// manChildren is c's subcommands that --help lists, by name.
func manChildren(c *cobra.Command) []*cobra.Command {
	var subs []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			subs = append(subs, sub)
		}
	}
	slices.SortFunc(subs, func(x, y *cobra.Command) int { return strings.Compare(x.Name(), y.Name()) })
	return subs
}

func manName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

// writeManPage writes c's page in man(7) roff: NAME, SYNOPSIS,
// DESCRIPTION, OPTIONS, OPTIONS INHERITED FROM PARENT COMMANDS, EXAMPLE,
// SEE ALSO.
func writeManPage(w *bytes.Buffer, c *cobra.Command, h manHeader) {
	c.InitDefaultHelpFlag() // -h, --help, listed as --help lists it
	fmt.Fprintf(w, ".nh\n.TH %s %s %s %s %s\n", roffArg(h.title), roffArg(h.section), roffArg(h.date), roffArg(h.source), roffArg(h.manual))
	fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", roffDashes(manName(c)), roffText(c.Short))
	fmt.Fprintf(w, ".SH SYNOPSIS\n\\fB%s\\fP\n", roffText(c.UseLine()))
	description := c.Long
	if description == "" {
		description = c.Short
	}
	w.WriteString(".SH DESCRIPTION\n")
	// A blank line is a paragraph break in the text, and .PP in roff.
	for i, para := range strings.Split(strings.TrimSpace(description), "\n\n") {
		if i > 0 {
			w.WriteString(".PP\n")
		}
		w.WriteString(roffText(strings.TrimSpace(para)) + "\n")
	}
	writeManFlags(w, "OPTIONS", c.NonInheritedFlags())
	writeManFlags(w, "OPTIONS INHERITED FROM PARENT COMMANDS", c.InheritedFlags())
	if c.Example != "" {
		// No fill: the lines as written, indented.
		w.WriteString(".SH EXAMPLE\n.PP\n.RS\n.nf\n" + roffText(strings.Trim(c.Example, "\n")) + "\n.fi\n.RE\n")
	}
	var see []string
	if c.HasParent() {
		see = append(see, roffDashes(manName(c.Parent())))
	}
	for _, sub := range manChildren(c) {
		see = append(see, roffDashes(manName(sub)))
	}
	if len(see) > 0 {
		w.WriteString(".SH SEE ALSO\n")
		for i, name := range see {
			if i > 0 {
				w.WriteString(",\n")
			}
			fmt.Fprintf(w, "\\fB%s\\fP(%s)", name, h.section)
		}
		w.WriteString("\n")
	}
}

// writeManFlags lists the flags --help shows, as cobra/doc did:
// "-s, --name=DEFAULT" (the default quoted for a string flag, in [] if
// the flag may go without a value), then the usage, indented.
func writeManFlags(w *bytes.Buffer, title string, flags *pflag.FlagSet) {
	if !flags.HasAvailableFlags() {
		return
	}
	w.WriteString(".SH " + title + "\n")
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Deprecated != "" || f.Hidden {
			return
		}
		tag := `\fB` + roffDashes("--"+f.Name) + `\fP`
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			tag = `\fB` + roffDashes("-"+f.Shorthand) + `\fP, ` + tag
		}
		def := f.DefValue
		switch f.Value.Type() {
		case "string":
			def = strconv.Quote(def)
		case "stringArray":
			// Empty is "" for strata's list flags (stringArrayVarP),
			// which keeps --help from showing a default; "[]" as pflag's.
			if def == "" {
				def = "[]"
			}
		}
		if f.NoOptDefVal != "" {
			tag += "[=" + roffText(def) + "]"
		} else {
			tag += "=" + roffText(def)
		}
		fmt.Fprintf(w, ".TP\n%s\n%s\n", tag, roffText(f.Usage))
	})
}

// roffText escapes text for roff: a backslash is \e, a line that would
// begin with a control character ('.' or \') begins with the zero-width
// \& instead, and a blank line within the text is .sp (a blank input
// line means the same to groff, but is not portable roff).
func roffText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, `\`, `\e`), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		} else if len(lines) > 1 && strings.TrimSpace(l) == "" {
			lines[i] = ".sp"
		}
	}
	return strings.Join(lines, "\n")
}

// roffDashes writes the '-' of an option or a command name as \-, the
// ASCII hyphen-minus one types (a bare '-' may print as a hyphen, ‐).
func roffDashes(s string) string { return strings.ReplaceAll(roffText(s), "-", `\-`) }

// roffArg quotes a macro argument ("" doubles a quote within it).
func roffArg(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\e`), `"`, `""`) + `"`
}

// newCompletionCmd is cobra's shell completion scripts, as current
// docker's `completion` command (docker 20.10 shipped them as files).
func newCompletionCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:       "completion bash|zsh|fish|powershell",
		Short:     "Generate the autocompletion script for the specified shell",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				return root.GenZshCompletion(a.stdout)
			case "fish":
				return root.GenFishCompletion(a.stdout, true)
			default:
				return root.GenPowerShellCompletionWithDesc(a.stdout)
			}
		},
	}
	return c
}
