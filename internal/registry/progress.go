package registry

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
)

// Progress receives what happens to each blob of a transfer, named by its
// short digest as docker prints it. Implementations must be safe for
// concurrent use: layers move in parallel.
type Progress interface {
	// Status is a change of state: "Pulling fs layer", "Already exists",
	// "Pull complete", "Pushed", "Layer already exists"...
	Status(id, status string)
	// Bytes reports how much of a blob of total bytes has moved.
	Bytes(id, action string, current, total int64)
}

type nopProgress struct{}

func (nopProgress) Status(string, string)              {}
func (nopProgress) Bytes(string, string, int64, int64) {}

// Lines prints one line per change of state and nothing for bytes: what a
// log or a pipe wants.
func Lines(w io.Writer) Progress { return &lines{w: w} }

type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) Status(id, status string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s\n", id, status)
}
func (l *lines) Bytes(string, string, int64, int64) {}

// Bars draws docker's terminal display: one row per blob, redrawn in place,
// with a bar, bytes and speed while it moves. Call Close before printing
// anything else.
func Bars(w io.Writer, width int) *bars {
	if width <= 0 {
		width = 80
	}
	return &bars{w: w, width: width, rows: map[string]*row{}}
}

type row struct {
	id, text       string
	start          time.Time
	current, total int64
}

type bars struct {
	mu       sync.Mutex
	w        io.Writer
	width    int
	order    []*row
	rows     map[string]*row
	drawn    int // rows on screen
	lastDraw time.Time
}

func (b *bars) get(id string) *row {
	r := b.rows[id]
	if r == nil {
		r = &row{id: id}
		b.rows[id] = r
		b.order = append(b.order, r)
	}
	return r
}

func (b *bars) Status(id, status string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(id).text = status
	b.draw()
}

func (b *bars) Bytes(id, action string, current, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.get(id)
	if r.start.IsZero() {
		r.start = time.Now()
	}
	r.current, r.total = current, total
	r.text = action + " " + bar(current, total, r.start, b.width-len(id)-len(action)-4)
	// Redraw at most ten times a second: a terminal is slow and the bytes
	// come in 32 KiB steps.
	if time.Since(b.lastDraw) < 100*time.Millisecond && current < total {
		return
	}
	b.draw()
}

func (b *bars) draw() {
	b.lastDraw = time.Now()
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn) // back to the first row
	}
	for _, r := range b.order {
		line := r.id + ": " + r.text
		if len(line) > b.width-1 {
			line = line[:b.width-1]
		}
		sb.WriteString("\x1b[2K" + line + "\n")
	}
	b.drawn = len(b.order)
	io.WriteString(b.w, sb.String())
}

// Close forgets the rows so that later output starts below them.
func (b *bars) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.order, b.rows, b.drawn = nil, map[string]*row{}, 0
}

// bar renders "[=====>     ]  12.3MB/45.6MB  80.1MB/s" in about width columns.
func bar(current, total int64, start time.Time, width int) string {
	speed := ""
	if el := time.Since(start).Seconds(); el > 0.05 {
		speed = "  " + HumanSize(float64(current)/el) + "/s"
	}
	nums := fmt.Sprintf("  %s/%s", HumanSize(float64(current)), HumanSize(float64(total)))
	n := width - len(nums) - len(speed) - 2
	if n > 50 {
		n = 50
	}
	if n < 10 || total <= 0 {
		return strings.TrimSpace(nums + speed)
	}
	fill := int(float64(n) * float64(current) / float64(total))
	if fill > n {
		fill = n
	}
	s := strings.Repeat("=", fill)
	if fill < n {
		s += ">" + strings.Repeat(" ", n-fill-1)
	}
	return "[" + s + "]" + nums + speed
}

// HumanSize prints bytes as docker does (decimal units, 3 digits: 12.3MB),
// with the docker/go-units function docker's own cli uses.
func HumanSize(n float64) string { return units.HumanSizeWithPrecision(n, 3) }

// counter reports bytes read through it to a Progress.
type counter struct {
	r      io.Reader
	p      Progress
	id     string
	action string
	n      int64
	total  int64
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if n > 0 {
		c.p.Bytes(c.id, c.action, c.n, c.total)
	}
	return n, err
}
