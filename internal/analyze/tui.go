package analyze

import (
	"fmt"
	"io"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/dustin/go-humanize"
)

// RunTUI browses the analysis in the terminal (run it with KeepChanges):
// layers on the left, the tree of the selected layer on the right. The
// view asks for the alternate screen (View.AltScreen).
func RunTUI(r *Result, in io.Reader, out io.Writer) error {
	_, err := tea.NewProgram(NewModel(r), tea.WithInput(in), tea.WithOutput(out)).Run()
	return err
}

// tnode is a path of the tree shown for one layer.
type tnode struct {
	name   string
	path   string
	dir    bool
	size   int64 // of a file; of everything below for a directory
	status Status
	kids   []*tnode
	byName map[string]*tnode
	// changed: the node or something below it changed in the layer.
	changed bool
}

func (n *tnode) child(name string) *tnode {
	c := n.byName[name]
	if c == nil {
		if n.byName == nil {
			n.byName = map[string]*tnode{}
		}
		p := n.path + "/" + name
		c = &tnode{name: name, path: p, dir: true}
		n.byName[name] = c
	}
	return c
}

// buildTree replays the changes of layers 0..k into the tree of the image
// at layer k, each path marked with what layer k did to it.
func buildTree(layers []LayerResult, k int) *tnode {
	root := &tnode{dir: true}
	for i := 0; i <= k && i < len(layers); i++ {
		for _, c := range layers[i].Changes {
			parts := strings.Split(strings.TrimPrefix(c.Path, "/"), "/")
			n := root
			for _, p := range parts[:len(parts)-1] {
				n = n.child(p)
			}
			name := parts[len(parts)-1]
			if c.Status == Removed && i < k {
				delete(n.byName, name)
				continue
			}
			t := n.child(name)
			t.dir, t.size, t.status = c.Dir, c.Size, Unchanged
			if c.Dir {
				t.size = 0
			}
			if i == k {
				t.status = c.Status
			}
		}
	}
	var fin func(n *tnode)
	fin = func(n *tnode) {
		n.kids = n.kids[:0]
		for _, c := range n.byName {
			n.kids = append(n.kids, c)
		}
		sort.Slice(n.kids, func(i, j int) bool { return n.kids[i].name < n.kids[j].name })
		n.changed = n.status != Unchanged
		if n.dir {
			n.size = 0
		}
		for _, c := range n.kids {
			fin(c)
			if n.dir {
				n.size += c.size
			}
			n.changed = n.changed || c.changed
		}
	}
	fin(root)
	return root
}

// Model is the interactive view's state; Update and View are pure, so
// tests drive it with key messages and read the screen as a string.
type Model struct {
	r          *Result
	layer      int
	focusTree  bool
	onlyChange bool
	collapsed  map[string]bool
	cursor     int
	offset     int
	width      int
	height     int
	trees      map[int]*tnode
}

// NewModel starts on the last layer with the layers pane focused.
func NewModel(r *Result) *Model {
	return &Model{r: r, layer: len(r.Layers) - 1, collapsed: map[string]bool{}, width: 120, height: 30, trees: map[int]*tnode{}}
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

func (m *Model) tree() *tnode {
	t := m.trees[m.layer]
	if t == nil {
		t = buildTree(m.r.Layers, m.layer)
		m.trees = map[int]*tnode{m.layer: t} // one layer's tree at a time
	}
	return t
}

type row struct {
	n     *tnode
	depth int
}

func (m *Model) rows() []row {
	var out []row
	var walk func(n *tnode, d int)
	walk = func(n *tnode, d int) {
		for _, c := range n.kids {
			if m.onlyChange && !c.changed {
				continue
			}
			out = append(out, row{c, d})
			if c.dir && !m.collapsed[c.path] {
				walk(c, d+1)
			}
		}
	}
	walk(m.tree(), 0)
	return out
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		case "tab":
			m.focusTree = !m.focusTree
		case "f":
			m.onlyChange = !m.onlyChange
			m.cursor, m.offset = 0, 0
		case "up", "k":
			if m.focusTree {
				m.cursor--
			} else if m.layer > 0 {
				m.layer--
				m.cursor, m.offset = 0, 0
			}
		case "down", "j":
			if m.focusTree {
				m.cursor++
			} else if m.layer < len(m.r.Layers)-1 {
				m.layer++
				m.cursor, m.offset = 0, 0
			}
		case "enter", "space": // v2 names the space bar "space"
			if m.focusTree {
				rs := m.rows()
				if m.cursor < len(rs) && rs[m.cursor].n.dir {
					p := rs[m.cursor].n.path
					m.collapsed[p] = !m.collapsed[p]
				}
			}
		case "c":
			// collapse every directory at the top level, or expand all
			if len(m.collapsed) > 0 {
				m.collapsed = map[string]bool{}
			} else {
				for _, c := range m.tree().kids {
					if c.dir {
						m.collapsed[c.path] = true
					}
				}
			}
			m.cursor, m.offset = 0, 0
		}
	}
	n := len(m.rows())
	if m.cursor >= n {
		m.cursor = n - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
	return m, nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if n <= 0 {
		return ""
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// View implements tea.Model; the screen is the View's Content.
func (m *Model) View() tea.View {
	v := tea.NewView(m.screen())
	v.AltScreen = true
	return v
}

func (m *Model) screen() string {
	r := m.r
	head := sgrBold.render(clip(r.Image, m.width)) + "\n" + fmt.Sprintf("size %s · efficiency %.2f %% · wasted %s (dive) · hidden copies %s",
		humanize.Bytes(uint64(r.SizeBytes)), r.Efficiency*100, humanize.Bytes(uint64(r.WastedBytes)), humanize.Bytes(uint64(r.WastedCopyBytes)))
	body := m.height - 6
	if body < 3 {
		body = 3
	}
	lw := m.width*2/5 - 2
	rw := m.width - lw - 4
	if lw < 20 {
		lw = 20
	}
	if rw < 20 {
		rw = 20
	}
	var left []string
	left = append(left, sgrBold.render("Layers"))
	for i, l := range r.Layers {
		s := clip(fmt.Sprintf("%2d %8s %s", l.Index, humanize.Bytes(uint64(l.Size)), Short(l.Instruction)), lw)
		if i == m.layer {
			s = sgrReverse.render(s)
		}
		left = append(left, s)
	}
	l := r.Layers[m.layer]
	left = append(left, "", clip(fmt.Sprintf("+%d ~%d -%d files", l.Added.Files, l.Modified.Files, l.Removed.Files), lw),
		clip(fmt.Sprintf("wasted later: %s", humanize.Bytes(uint64(l.WastedBytes))), lw))
	if l.MetadataOnly.Files > 0 {
		left = append(left, clip(fmt.Sprintf("metadata-only copies: %d (%s)", l.MetadataOnly.Files, humanize.Bytes(uint64(l.MetadataOnly.Bytes))), lw))
	}

	rs := m.rows()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+body-1 {
		m.offset = m.cursor - body + 2
	}
	title := fmt.Sprintf("Layer %d tree", m.layer)
	if m.onlyChange {
		title += " (changed only)"
	}
	right := []string{sgrBold.render(title)}
	for i := m.offset; i < len(rs) && i < m.offset+body-1; i++ {
		x := rs[i]
		name := x.n.name
		if x.n.dir {
			mark := "▾ "
			if m.collapsed[x.n.path] {
				mark = "▸ "
			}
			name = mark + name + "/"
		} else {
			name = "  " + name
		}
		s := clip(fmt.Sprintf("%-9s %8s %s%s", x.n.status, humanize.Bytes(uint64(x.n.size)), strings.Repeat("  ", x.depth), name), rw)
		switch x.n.status {
		case Added:
			s = sgrGreen.render(s)
		case Modified:
			s = sgrYellow.render(s)
		case Removed:
			s = sgrRed.render(s)
		default:
			s = sgrFaint.render(s)
		}
		if m.focusTree && i == m.cursor {
			s = sgrReverse.render(s)
		}
		right = append(right, s)
	}
	var le, re sgr // the focused pane's border is blue
	if m.focusTree {
		re = sgrBlue
	} else {
		le = sgrBlue
	}
	panes := besideEachOther(box(left, lw, body, le), box(right, rw, body, re))
	help := sgrFaint.render("tab: switch pane · ↑/↓: move · enter: collapse dir · c: collapse all · f: changed only · q: quit")
	return head + "\n" + panes + "\n" + help
}
