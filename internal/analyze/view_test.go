package analyze

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/strata-dev/strata/internal/testutil"
)

func analyzed(t *testing.T, name string, opts Options) *Result {
	t.Helper()
	for _, fx := range fixtures {
		if fx.name == name {
			_, im := fx.build(t)
			r, err := analyzePlan(im, opts)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("no fixture %s", name)
	return nil
}

func TestTreeGolden(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		layer   int
		mode    TreeMode
	}{
		{"opaque-dir", 1, TreeImage},
		{"opaque-dir", 1, TreeLayer},
		{"opaque-dir", 2, TreeImage},
		{"chmod-tree", 1, TreeImage},
		{"whiteout-implied-parents", 1, TreeLayer},
	} {
		name := tc.fixture + "-" + string("0123456789"[tc.layer]) + map[TreeMode]string{TreeImage: "-image", TreeLayer: "-layer"}[tc.mode]
		t.Run(name, func(t *testing.T) {
			r := analyzed(t, tc.fixture, Options{UpTo: tc.layer})
			var b bytes.Buffer
			if err := WriteTree(&b, r, tc.mode); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, "testdata/tree-"+name+".golden", b.String())
		})
	}
}

func key(s string) tea.KeyMsg {
	switch s {
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTUI(t *testing.T) {
	r := analyzed(t, "opaque-dir", Options{UpTo: -1, KeepChanges: true})
	m := NewModel(r)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	screen := func() string { return ansi.ReplaceAllString(m.View(), "") }
	steps := []struct {
		keys    []string
		want    []string
		notWant []string
	}{
		// starts on the last layer: d removed
		{nil, []string{"Layer 2 tree", "removed", "d/"}, nil},
		// layer 1: the opaque dir hides x and y, adds z
		{[]string{"up"}, []string{"Layer 1 tree", "added", "z", "removed", "x", "e"}, nil},
		// only changed paths: e (unchanged) disappears
		{[]string{"f"}, []string{"(changed only)", "z"}, []string{" e\n"}},
		// collapse d in the tree pane: its files go
		{[]string{"f", "tab", "enter"}, []string{"▸ d/", "e"}, []string{" z"}},
		// back to layer 0
		{[]string{"tab", "up"}, []string{"Layer 0 tree", "added"}, nil},
	}
	for i, s := range steps {
		for _, k := range s.keys {
			m.Update(key(k))
		}
		got := screen()
		for _, w := range s.want {
			if !strings.Contains(got, w) {
				t.Errorf("step %d: screen lacks %q:\n%s", i, w, got)
			}
		}
		for _, w := range s.notWant {
			if strings.Contains(got, w) {
				t.Errorf("step %d: screen has %q:\n%s", i, w, got)
			}
		}
	}
	if _, cmd := m.Update(key("q")); cmd == nil {
		t.Error("q does not quit")
	}
}

// TestHTMLInChromium loads the page in headless chromium: it must run its
// script without error and draw one band per layer.
func TestHTMLInChromium(t *testing.T) {
	bin := ""
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	r := analyzed(t, "opaque-dir", Options{UpTo: -1, KeepChanges: true})
	r.Image = `<script>alert("x")</script>` // the data must not break out of its script
	page := filepath.Join(t.TempDir(), "a.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"http://", "https://", "src=", "href="} {
		if strings.Contains(b.String(), ref) {
			t.Errorf("the page refers to something outside itself: %q", ref)
		}
	}
	out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--dump-dom", "file://"+page).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, `data-ready="1"`) {
		t.Fatalf("the page's script did not finish:\n%s", dom)
	}
	if m := regexp.MustCompile(`id="error">([^<]*)<`).FindStringSubmatch(dom); m == nil || m[1] != "" {
		t.Errorf("script error: %v", m)
	}
	if n := len(regexp.MustCompile(`class="band[ "]`).FindAllString(dom, -1)); n != len(r.Layers) {
		t.Errorf("%d bands, want one per layer (%d)", n, len(r.Layers))
	}
	if !strings.Contains(dom, "/d/x") || !strings.Contains(dom, `class="file"`) {
		t.Error("the selected layer's files are not listed")
	}
}
