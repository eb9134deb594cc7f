package remotecache_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/builder/remotecache"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/store"
)

// machine is one build host: its own store and its own copy of the context
// (at another path, so nothing machine-specific can hide in a key).
type machine struct {
	t   *testing.T
	st  *store.Store
	ctx string
	cl  *registry.Client
}

func newMachine(t *testing.T, proxy string, files map[string]string) *machine {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := registry.New(registry.Options{TLSVerify: true, ConfigFiles: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{t: t, st: st, ctx: filepath.Join(t.TempDir(), "src"), cl: cl}
	m.write(files)
	// The same base image on every machine (same ID: fixed clock).
	base := filepath.Join(t.TempDir(), "base")
	os.MkdirAll(base, 0o755)
	os.WriteFile(filepath.Join(base, "os-release"), []byte("ID=base\n"), 0o644)
	tag, _ := image.ParseTagged("base:1")
	epoch := time.Unix(1700000000, 0).UTC()
	m.buildAt(base, builder.Options{Dockerfile: []byte("FROM scratch\nCOPY os-release /etc/os-release\n"), Tags: []image.Reference{tag}, Timestamp: &epoch})
	return m
}

func (m *machine) write(files map[string]string) {
	for n, c := range files {
		p := filepath.Join(m.ctx, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *machine) buildAt(dir string, o builder.Options) (*builder.Result, string) {
	m.t.Helper()
	res, out, err := m.try(dir, o)
	if err != nil {
		m.t.Fatalf("build: %v\n%s", err, out)
	}
	return res, out
}

func (m *machine) try(dir string, o builder.Options) (*builder.Result, string, error) {
	var buf bytes.Buffer
	p := progress.New(&buf, progress.Plain)
	clock := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	p.SetClock(func() time.Time { return clock })
	o.Progress = p
	o.ContextDir = dir
	o.Now = func() time.Time { return clock }
	if o.Dockerfile == nil {
		df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
		if err != nil {
			m.t.Fatal(err)
		}
		o.Dockerfile = df
	}
	res, err := builder.Build(context.Background(), m.st, o)
	p.Close()
	return res, buf.String(), err
}

// build builds the context with --cache-from/--cache-to refs, as the CLI
// wires them.
func (m *machine) build(o builder.Options, from []string, to string, mode string) (*builder.Result, string) {
	m.t.Helper()
	var imported []*remotecache.Remote
	lock, err := m.st.Writing()
	if err != nil {
		m.t.Fatal(err)
	}
	for _, ref := range from {
		r, err := remotecache.Import(context.Background(), m.cl, m.st, ref)
		if err != nil {
			m.t.Fatal(err)
		}
		if r != nil {
			imported = append(imported, r)
			o.CacheFrom = append(o.CacheFrom, r)
		}
	}
	lock.Unlock()
	if to != "" {
		x := &remotecache.Exporter{Client: m.cl, Store: m.st, Ref: to, Sources: imported}
		o.CacheExport = x.Export
		o.CacheExportAll = mode == "max"
	}
	return m.buildAt(m.ctx, o)
}

var cachedRe = regexp.MustCompile(`(?m)^#(\d+) \[[^\]]*\] (.*)$`)

// steps maps each step's line ("COPY a.txt /a.txt") to whether it was CACHED.
func steps(out string) map[string]bool {
	res := map[string]bool{}
	for _, mm := range cachedRe.FindAllStringSubmatch(out, -1) {
		if strings.HasPrefix(mm[2], "FROM") || strings.HasPrefix(mm[2], "load ") {
			continue
		}
		res[mm[2]] = strings.Contains(out, "#"+mm[1]+" CACHED\n")
	}
	return res
}

func blobGets(p *registrytest.Proxy) (blobs, manifests int) {
	for _, r := range p.Requests() {
		if r.Method != "GET" {
			continue
		}
		switch {
		case strings.Contains(r.Path, "/blobs/sha256:"):
			blobs++
		case strings.Contains(r.Path, "/manifests/"):
			manifests++
		}
	}
	return
}

const appDockerfile = `FROM base:1 AS app
COPY a.txt /app/a.txt
COPY b.txt /app/b.txt

FROM app AS test
COPY t.txt /app/t.txt
`

func files() map[string]string {
	return map[string]string{"Dockerfile": appDockerfile, "a.txt": "a\n", "b.txt": strings.Repeat("b", 100000), "t.txt": "test\n"}
}

func TestRegistryCacheSecondMachine(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	px := registrytest.NewProxy(t, reg.Host)
	ref := px.Host + "/cache/app:main"

	a := newMachine(t, px.Host, files())
	resA, out := a.build(builder.Options{Target: "test"}, []string{ref}, ref, "max")
	if !strings.Contains(out, "no build cache") && len(steps(out)) == 0 {
		t.Logf("%s", out)
	}
	for s, cached := range steps(out) {
		if cached {
			t.Errorf("first build: %s CACHED", s)
		}
	}

	// Machine B, empty store but for the base: everything CACHED, same ID.
	b := newMachine(t, px.Host, files())
	px.Reset()
	resB, out := b.build(builder.Options{Target: "test"}, []string{ref}, "", "")
	st := steps(out)
	if len(st) != 3 {
		t.Fatalf("steps: %v\n%s", st, out)
	}
	for s, cached := range st {
		if !cached {
			t.Errorf("second machine: %s not CACHED\n%s", s, out)
		}
	}
	if resB.ImageID != resA.ImageID || resB.Built != 0 || resB.Cached != 3 {
		t.Errorf("second machine: %s (built %d, cached %d), want %s", resB.ImageID, resB.Built, resB.Cached, resA.ImageID)
	}
	blobs, manifests := blobGets(px)
	// manifest + config + the 3 layers of the image; nothing else.
	if manifests != 1 || blobs != 4 {
		t.Errorf("second machine fetched %d manifests, %d blobs; want 1 and 4: %+v", manifests, blobs, px.Requests())
	}

	// Machine C builds only the app stage: the cache has the test stage's
	// layer too, which it does not download.
	c := newMachine(t, px.Host, files())
	px.Reset()
	resC, out := c.build(builder.Options{Target: "app"}, []string{ref}, "", "")
	if resC.Built != 0 || resC.Cached != 2 {
		t.Errorf("app target: built %d cached %d\n%s", resC.Built, resC.Cached, out)
	}
	if blobs, _ := blobGets(px); blobs != 3 {
		t.Errorf("app target fetched %d blobs, want config + 2 layers", blobs)
	}

	// A changed file on B: the steps before it hit, it and those after
	// it run.
	b.write(map[string]string{"b.txt": "changed\n"})
	_, out = b.build(builder.Options{Target: "test"}, []string{ref}, "", "")
	st = steps(out)
	if !st["COPY a.txt /app/a.txt"] || st["COPY b.txt /app/b.txt"] || st["COPY t.txt /app/t.txt"] {
		t.Errorf("after a change: %v\n%s", st, out)
	}

	// A second build on B needs no registry: the hits were saved locally.
	b.write(map[string]string{"b.txt": strings.Repeat("b", 100000)})
	px.Reset()
	res, out := b.buildAt(b.ctx, builder.Options{Target: "test"})
	if res.ImageID != resA.ImageID || res.Built != 0 {
		t.Errorf("local rebuild: %s built %d\n%s", res.ImageID, res.Built, out)
	}
	if n := len(px.Requests()); n != 0 {
		t.Errorf("local rebuild made %d requests", n)
	}
}

func TestRegistryCacheModes(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/cache/modes"
	df := `FROM base:1 AS tools
COPY t.txt /t.txt
COPY a.txt /a2.txt

FROM base:1
COPY --from=tools /t.txt /t.txt
COPY a.txt /a.txt
`
	fs := map[string]string{"Dockerfile": df, "a.txt": "a\n", "t.txt": "t\n"}
	a := newMachine(t, reg.Host, fs)
	count := func(tag string) int {
		r, err := remotecache.Import(context.Background(), a.cl, a.st, ref+":"+tag)
		if err != nil || r == nil {
			t.Fatalf("import %s: %v", tag, err)
		}
		return r.Len()
	}
	a.build(builder.Options{}, nil, ref+":min", "min")
	a.build(builder.Options{}, nil, ref+":max", "max")
	if n := count("min"); n != 2 {
		t.Errorf("mode=min exported %d records, want the final stage's 2", n)
	}
	if n := count("max"); n != 4 {
		t.Errorf("mode=max exported %d records, want 4", n)
	}
	// With mode=min, another machine rebuilds the tools stage; with max,
	// nothing.
	for mode, built := range map[string]int{"min": 2, "max": 0} {
		b := newMachine(t, reg.Host, fs)
		res, out := b.build(builder.Options{}, []string{ref + ":" + mode}, "", "")
		if res.Built != built {
			t.Errorf("mode=%s: built %d steps, want %d\n%s", mode, res.Built, built, out)
		}
	}
}

func TestCacheFromMissingRef(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	a := newMachine(t, reg.Host, map[string]string{"Dockerfile": "FROM base:1\nCOPY a.txt /a\n", "a.txt": "a"})
	r, err := remotecache.Import(context.Background(), a.cl, a.st, reg.Host+"/nothing/here:yet")
	if err != nil || r != nil {
		t.Fatalf("missing ref: %v, %v", r, err)
	}
	res, _ := a.build(builder.Options{}, []string{reg.Host + "/nothing/here:yet"}, reg.Host+"/nothing/here:yet", "min")
	if res.Built != 1 {
		t.Errorf("built %d", res.Built)
	}
	// Not a cache: a clear error.
	_, err = remotecache.Import(context.Background(), a.cl, a.st, "127.0.0.1:1/x:y")
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("unreachable registry: %v", err)
	}
}

func TestParseSpec(t *testing.T) {
	for in, want := range map[string]remotecache.Spec{
		"type=registry,ref=r/c:main":          {Ref: "r/c:main", Mode: "min"},
		"type=registry,ref=r/c:main,mode=max": {Ref: "r/c:main", Mode: "max"},
		"r/c:main":                            {Ref: "r/c:main", Mode: "min"},
	} {
		got, err := remotecache.ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"type=local,dest=x", "type=registry", "type=registry,ref=x,mode=all"} {
		if _, err := remotecache.ParseSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
