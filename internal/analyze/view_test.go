package analyze

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
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

// key is the press of one key as bubbletea v2 decodes it from a terminal.
func key(s string) tea.KeyPressMsg {
	switch s {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTUI(t *testing.T) {
	r := analyzed(t, "opaque-dir", Options{UpTo: -1, KeepChanges: true})
	m := NewModel(r)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	screen := func() string {
		v := m.View()
		if !v.AltScreen {
			t.Error("the view does not ask for the alternate screen")
		}
		return ansi.ReplaceAllString(v.Content, "")
	}
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
	// space collapses like enter: d opens again
	m.Update(key("tab"))
	m.Update(key("space"))
	if got := screen(); !strings.Contains(got, "▾ d/") {
		t.Errorf("space does not toggle the directory:\n%s", got)
	}
	for _, k := range []string{"q", "esc", "ctrl+c"} {
		if _, cmd := m.Update(key(k)); cmd == nil {
			t.Errorf("%s does not quit", k)
		} else if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s: the command is not tea.Quit", k)
		}
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
