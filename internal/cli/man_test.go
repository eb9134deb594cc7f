package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/testutil"
)

// groffText renders a man page as groff's man macros lay it out for a
// terminal, as plain text (no bold or underline), and fails on any
// warning groff gives (-ww: all of them).
func groffText(t *testing.T, page string) string {
	t.Helper()
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is missing (Debian package groff-base)")
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-P-cbou", page)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 {
		t.Fatalf("groff %s: %v\n%s", filepath.Base(page), err, errOut.String())
	}
	return out.String()
}

// TestGenManPages: gen-man writes a page per command --help lists and no
// other, each renders without a groff warning, each page's SEE ALSO
// names pages that exist, man-db reads each NAME line as "name - what
// it does"; strata-image-history.1 is as its golden file.
func TestGenManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000") // the date of the .TH line
	t.Setenv("STRATA_ROOT", "/var/lib/strata")  // --root's default, as a root user's
	dir := filepath.Join(t.TempDir(), "man")
	if _, errOut, code := strata(t, t.TempDir(), "", "gen-man", dir); code != 0 {
		t.Fatalf("gen-man: exit %d %s", code, errOut)
	}
	want := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		want[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"] = true
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(newRoot(&app{}))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) || len(want) < 50 {
		t.Errorf("%d pages for %d commands", len(entries), len(want))
	}
	for _, name := range []string{"strata.1", "strata-run.1", "strata-image-ls.1", "strata-container-ls.1"} {
		if !want[name] {
			t.Errorf("no command for %s", name)
		}
	}
	seeAlso := regexp.MustCompile(`\\fB([^\\]+(?:\\-[^\\]+)*)\\fP\(1\)`)
	_, lexgrogErr := exec.LookPath("lexgrog")
	for _, e := range entries {
		name := e.Name()
		if !want[name] {
			t.Errorf("%s: a page for no listed command", name)
			continue
		}
		path := filepath.Join(dir, name)
		groffText(t, path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, seeText, _ := strings.Cut(string(b), "\n.SH SEE ALSO\n")
		for _, m := range seeAlso.FindAllStringSubmatch(seeText, -1) {
			if ref := strings.ReplaceAll(m[1], `\-`, "-") + ".1"; !want[ref] {
				t.Errorf("%s: SEE ALSO %s, no such page", name, ref)
			}
		}
		if name != "strata.1" && !strings.Contains(seeText, `\fB`) {
			t.Errorf("%s: no SEE ALSO", name)
		}
		if lexgrogErr == nil { // man-db's whatis reader
			out, err := exec.Command("lexgrog", path).Output()
			if re := `^` + regexp.QuoteMeta(path+`: "`+strings.TrimSuffix(name, ".1")) + ` - \S.*"\n$`; err != nil || !regexp.MustCompile(re).Match(out) {
				t.Errorf("lexgrog %s: %v %q", name, err, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "strata-gen-man.1")); err == nil {
		t.Error("a page for the hidden gen-man")
	}
	page, err := os.ReadFile(filepath.Join(dir, "strata-image-history.1"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "testdata/golden/man-image-history.golden", strings.Replace(string(page), `"strata `+Version+`"`, `"strata VERSION"`, 1))
	// A list flag's default is [], as cobra/doc wrote it.
	if run, _ := os.ReadFile(filepath.Join(dir, "strata-run.1")); !strings.Contains(string(run), `\fB\-e\fP, \fB\-\-env\fP=[]`+"\n") {
		t.Errorf("strata-run.1: no -e, --env=[] in %s", run)
	}
}

// TestManPageEscapes: text that roff would take for requests or escapes
// (a line starting with '.' or ', a backslash) prints as written, in the
// description, the usage and default of a flag, and the example; hidden
// and deprecated flags are left out; a blank line parts paragraphs.
func TestManPageEscapes(t *testing.T) {
	root := &cobra.Command{Use: "tool", Short: "A tool"}
	sub := &cobra.Command{
		Use:   "sub [OPTIONS] ARG",
		Short: `Do a \thing`,
		Long: "First line of the description\n.TH not a request\n'br not one either\n" +
			`a back\slash and \fB not bold` + "\n\nSecond paragraph",
		Example: "  tool sub -n '.'\n\n.start of a line",
		Run:     func(*cobra.Command, []string) {},
	}
	sub.Flags().StringP("name", "n", `a "quoted" \ value`, ".usage starting with a dot")
	sub.Flags().Bool("gone", false, "a deprecated flag")
	sub.Flags().Int("secret", 0, "a hidden flag")
	sub.Flags().MarkDeprecated("gone", "use --name")
	sub.Flags().MarkHidden("secret")
	root.AddCommand(sub)
	dir := t.TempDir()
	if err := writeManTree(root, manHeader{title: "TOOL", section: "1", date: "Jan 2024", source: "tool 1", manual: "tool manual"}, dir); err != nil {
		t.Fatal(err)
	}
	text := groffText(t, filepath.Join(dir, "tool-sub.1"))
	// groff fills and justifies: the words, in order, are what is compared.
	words := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{
		`NAME tool-sub - Do a \thing SYNOPSIS tool sub [OPTIONS] ARG [flags] DESCRIPTION`,
		`First line of the description .TH not a request 'br not one either a back\slash and \fB not bold Second paragraph OPTIONS`,
		`-n, --name="a \"quoted\" \\ value" .usage starting with a dot`,
		`EXAMPLE tool sub -n '.' .start of a line SEE ALSO tool(1)`,
	} {
		if !strings.Contains(words, want) {
			t.Errorf("the page lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`\n\n +Second paragraph\n`).MatchString(text) {
		t.Errorf("no paragraph break:\n%s", text)
	}
	for _, gone := range []string{"gone", "secret"} {
		if strings.Contains(text, gone) {
			t.Errorf("the page shows --%s:\n%s", gone, text)
		}
	}
}
