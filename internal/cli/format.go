package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"
)

// templateFuncs are the functions docker offers in --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(buf.String()), nil
	},
	"split": strings.Split,
	"join":  strings.Join,
	//lint:ignore SA1019 docker's own template func, same word boundaries
	"title":    strings.Title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": func(s string, n int) string { return truncate(s, n) },
	"println":  fmt.Sprintln,
}

// parseTemplate parses a --format template as docker does: unnamed, so
// that its errors read as docker's ("template: :1:2: ...").
func parseTemplate(text string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %v", err)
	}
	return t, nil
}

// table prints rows docker-style: --format "" uses the default columns;
// "table TEMPLATE" a table of the given columns with their headers; "json"
// one JSON object per line; any other template one line per row.
type table struct {
	format  string
	columns string            // default "table ..." template
	headers map[string]string // field name -> column header
}

// escapes are the two escapes docker's list formats read in a template
// (`table {{.A}}\t{{.B}}` as typed in single quotes); inspect's -f does
// not read them, as in docker.
var escapes = strings.NewReplacer(`\t`, "\t", `\n`, "\n")

func (t table) print(w io.Writer, rows []any) error {
	f := escapes.Replace(t.format)
	switch {
	case f == "":
		f = t.columns
	case f == "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if body, ok := strings.CutPrefix(f, "table"); ok {
		body = strings.TrimSpace(body)
		if body == "" {
			body = strings.TrimSpace(strings.TrimPrefix(t.columns, "table"))
		}
		tmpl, err := parseTemplate(body + "\n")
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		header := body
		for field, h := range t.headers {
			header = strings.ReplaceAll(header, "{{."+field+"}}", h)
		}
		fmt.Fprintln(tw, header)
		for _, r := range rows {
			if err := tmpl.Execute(tw, r); err != nil {
				return fmt.Errorf("template parsing error: %v", err)
			}
		}
		return tw.Flush()
	}
	tmpl, err := parseTemplate(f + "\n")
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := tmpl.Execute(w, r); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
	}
	return nil
}

// humanSize is how docker prints sizes: 1.23MB (SI units, 3 significant digits).
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// since is docker's CREATED column: "2 weeks ago".
func since(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// truncate shortens s to n runes with an ellipsis, as docker's tables do.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 3 {
		return string(r[:n])
	}
	return string(r[:n-3]) + "..."
}

// shortID is the 12-hex form of an image ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
