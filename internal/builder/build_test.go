package builder

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/builder/conformance"
	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/testutil"
)

// writeTree creates files (name -> content; a trailing / makes a dir).
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type env struct {
	t   *testing.T
	st  *store.Store
	ctx string
}

func newEnv(t *testing.T, files map[string]string) *env {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.TempDir()
	writeTree(t, ctx, files)
	return &env{t: t, st: st, ctx: ctx}
}

// build runs a build with fixed clocks; it returns the result, the plain
// progress output and the error.
func (e *env) build(o Options) (*Result, string, error) {
	var out bytes.Buffer
	p := progress.New(&out, progress.Plain)
	clock := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	p.SetClock(func() time.Time { return clock })
	o.Progress = p
	if o.ContextDir == "" {
		o.ContextDir = e.ctx
	}
	if o.Now == nil {
		o.Now = func() time.Time { return clock }
	}
	if o.Dockerfile == nil {
		df, err := os.ReadFile(filepath.Join(e.ctx, "Dockerfile"))
		if err != nil {
			e.t.Fatal(err)
		}
		o.Dockerfile = df
	}
	res, err := Build(context.Background(), e.st, o)
	p.Close()
	return res, out.String(), err
}

var ids = regexp.MustCompile(`sha256:[0-9a-f]{12,64}`)

// stable hides digests from output compared with golden files.
func stable(s string) string { return ids.ReplaceAllString(s, "sha256:<id>") }

func TestParseErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, dockerfile, want string
	}{
		{"unknown instruction", "FROM scratch\nFROBNICATE x\n", "Dockerfile:2:"},
		{"no from", "ARG A\nCOPY a b\n", "Dockerfile:2: no build stage"},
		{"env with one word", "FROM scratch\nLABEL a=b\nENV ALONE\nLABEL c=d\n", "Dockerfile:3: ENV must have two arguments"},
		{"label with a bare word", "FROM scratch\nLABEL a=1 # x\n", "Dockerfile:2:"},
		{"bad flag", "FROM scratch\nCOPY --nope=1 a b\n", "Dockerfile:2:"},
		{"empty", "", "Dockerfile"},
		{"env without value", "FROM scratch\n\nENV\n", "Dockerfile:3:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			_, _, err := e.build(Options{Dockerfile: []byte(c.dockerfile)})
			if err == nil {
				t.Fatal("want an error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want a ParseError starting %q", err, c.want)
			}
		})
	}
}

const scratchDockerfile = `FROM scratch
ARG V=1
ENV A=1
WORKDIR /app
COPY files/ ./
COPY --chmod=600 files/a.txt /etc/a
LABEL v=$V
CMD ["/app/run"]
`

func scratchEnv(t *testing.T) *env {
	return newEnv(t, map[string]string{
		"Dockerfile": scratchDockerfile, "files/a.txt": "a\n", "files/b.txt": "b\n", "files/sub/c.txt": "c\n", "files/empty/": "",
	})
}

// TestCacheAndExplain: the second build hits every step; changing a file
// or a build arg misses where they are used, and says why.
func TestCacheAndExplain(t *testing.T) {
	e := scratchEnv(t)
	tag, _ := image.ParseTagged("t:1")
	r1, out1, err := e.build(Options{Tags: []image.Reference{tag}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "testdata/golden/first-build.txt", stable(out1))
	r2, out2, err := e.build(Options{Tags: []image.Reference{tag}})
	if err != nil {
		t.Fatal(err)
	}
	if r2.ImageID != r1.ImageID || r2.Built != 0 || r2.Cached != 3 {
		t.Fatalf("rebuild: %+v, want the same image %s, all cached", r2, r1.ImageID)
	}
	testutil.Golden(t, "testdata/golden/cached-build.txt", stable(out2))
	// One file changes: the COPY that reads it and what follows miss.
	os.WriteFile(filepath.Join(e.ctx, "files/sub/c.txt"), []byte("changed\n"), 0o644)
	r3, out3, err := e.build(Options{Tags: []image.Reference{tag}})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Cached != 1 || r3.Built != 2 {
		t.Fatalf("after a change: %+v, want 1 cached, 2 built", r3)
	}
	if !strings.Contains(out3, "cache miss: file files/sub/c.txt changed") {
		t.Fatalf("the miss is not explained by the file:\n%s", out3)
	}
	testutil.Golden(t, "testdata/golden/file-changed.txt", stable(out3))
	// Touching a file (mtime only) changes nothing.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(e.ctx, "files/a.txt"), later, later)
	r4, _, err := e.build(Options{Tags: []image.Reference{tag}})
	if err != nil {
		t.Fatal(err)
	}
	if r4.Built != 0 || r4.ImageID != r3.ImageID {
		t.Fatalf("an mtime change rebuilt: %+v", r4)
	}
	// A build arg used only by LABEL changes no layer, but the image.
	r5, _, err := e.build(Options{Tags: []image.Reference{tag}, BuildArgs: map[string]string{"V": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if r5.Built != 0 || r5.ImageID == r4.ImageID {
		t.Fatalf("build arg for LABEL: %+v", r5)
	}
}

// TestExplainBuildArg: a RUN-free step that uses an ARG misses with the
// arg named.
func TestExplainBuildArg(t *testing.T) {
	e := newEnv(t, map[string]string{
		"Dockerfile": "FROM scratch\nARG DIR=a\nCOPY $DIR/ /x/\n", "a/f": "1", "b/f": "2",
	})
	if _, _, err := e.build(Options{}); err != nil {
		t.Fatal(err)
	}
	_, out, err := e.build(Options{BuildArgs: map[string]string{"DIR": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `build arg DIR changed: "a" -> "b"`) {
		t.Fatalf("no explanation naming the arg:\n%s", out)
	}
}

// TestReproducible: with a timestamp, --no-cache rebuilds give the same
// image ID and byte-identical layers, whatever the files' times.
func TestReproducible(t *testing.T) {
	ts := time.Unix(1700000000, 0).UTC()
	var first *Result
	for i := 0; i < 2; i++ {
		e := scratchEnv(t)
		now := time.Now().Add(time.Duration(i) * time.Hour)
		res, _, err := e.build(Options{NoCache: true, Timestamp: &ts, Now: func() time.Time { return now }, Compression: layer.Gzip})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = res
			continue
		}
		if res.ImageID != first.ImageID {
			t.Fatalf("image IDs differ: %s, %s", first.ImageID, res.ImageID)
		}
	}
}

// TestNothingTaggedOnFailure: a failing step leaves no image and no name.
func TestNothingTaggedOnFailure(t *testing.T) {
	e := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\nCOPY missing /m\n", "a": "a"})
	tag, _ := image.ParseTagged("never:1")
	_, out, err := e.build(Options{Tags: []image.Reference{tag}})
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:3:") || !strings.Contains(err.Error(), `"/missing": not found`) {
		t.Fatalf("got %v", err)
	}
	if _, err := e.st.Resolve("never:1"); !errors.Is(err, store.ErrNoSuchImage) {
		t.Fatalf("the tag exists after a failed build: %v", err)
	}
	imgs, _ := e.st.Images()
	if len(imgs) != 0 {
		t.Fatalf("%d images after a failed build", len(imgs))
	}
	testutil.Golden(t, "testdata/golden/failed-copy.txt", stable(out))
}

// TestStageGraph: only the stages the target needs are built; COPY
// --from copies only what it names.
func TestStageGraph(t *testing.T) {
	df := `FROM scratch AS tools
COPY tool /usr/bin/tool
COPY junk /junk

FROM scratch AS broken
COPY does-not-exist /

FROM scratch AS final
COPY --from=tools /usr/bin/tool /bin/
COPY --from=0 /junk /opt/junk
`
	e := newEnv(t, map[string]string{"Dockerfile": df, "tool": "#!/bin/sh\n", "junk": "j"})
	res, out, err := e.build(Options{})
	if err != nil {
		t.Fatalf("the unused broken stage was built? %v\n%s", err, out)
	}
	testutil.Golden(t, "testdata/golden/multistage.txt", stable(out))
	im, _ := e.st.Image(res.ImageID)
	if len(im.Layers) != 2 {
		t.Fatalf("final image has %d layers, want 2", len(im.Layers))
	}
	if _, _, err := e.build(Options{Target: "broken"}); err == nil {
		t.Fatal("building the broken target succeeded")
	}
	if _, _, err := e.build(Options{Target: "nope"}); err == nil || !strings.Contains(err.Error(), "target stage") {
		t.Fatalf("unknown target: %v", err)
	}
}

// TestCopyFeatures: heredocs, --parents, --exclude and .dockerignore
// exceptions, checked on the image's files.
func TestCopyFeatures(t *testing.T) {
	df := "FROM scratch\n" +
		"COPY <<EOF /etc/greeting\nhello $NAME\nEOF\n" +
		"COPY --parents ./src/a/x.go ./src/b/y.go /out/\n" +
		"COPY --exclude=*.log logs/ /logs/\n" +
		"COPY . /all/\n"
	e := newEnv(t, map[string]string{
		"Dockerfile": df, "src/a/x.go": "x", "src/b/y.go": "y", "logs/a.log": "l", "logs/keep.txt": "k",
		"secret.key": "s", "notes.md": "n", "README.md": "r",
		".dockerignore": "*.key\n*.md\n!README.md\n",
	})
	res, _, err := e.build(Options{})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := e.st.Image(res.ImageID)
	fs, _, err := imageFS(e.st, im)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range fs.Diff(emptyFS()) {
		b.WriteString(l + "\n")
	}
	testutil.Golden(t, "testdata/golden/copy-features.txt", b.String())
}

func emptyFS() *conformance.FS { return conformance.NewFS() }

// TestExplainOnlySameDockerfile: a miss is explained against the earlier
// builds of the same Dockerfile and target, not against another
// Dockerfile's step on the same parent (unless --explain-cache asks for
// the closest record of any build).
func TestExplainOnlySameDockerfile(t *testing.T) {
	e := newEnv(t, map[string]string{
		"a/Dockerfile": "FROM scratch\nCOPY f /f\nCOPY f /a\n",
		"b/Dockerfile": "FROM scratch\nCOPY f /f\nCOPY f /b\n",
		"f":            "1",
	})
	build := func(df string, o Options) string {
		t.Helper()
		o.DockerfilePath = filepath.Join(e.ctx, df)
		raw, err := os.ReadFile(o.DockerfilePath)
		if err != nil {
			t.Fatal(err)
		}
		o.Dockerfile = raw
		_, out, err := e.build(o)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	build("a/Dockerfile", Options{})
	if out := build("b/Dockerfile", Options{}); strings.Contains(out, "instruction changed") || !strings.Contains(out, "cache miss: no earlier build of this step") {
		t.Errorf("b explained against a's build:\n%s", out)
	}
	if out := build("b/Dockerfile", Options{NoCache: true}); strings.Contains(out, "instruction changed") {
		t.Errorf("--no-cache explained:\n%s", out)
	}
	writeTree(t, e.ctx, map[string]string{"b/Dockerfile": "FROM scratch\nCOPY f /f\nCOPY f /b2\n"})
	if out := build("b/Dockerfile", Options{}); !strings.Contains(out, `cache miss: instruction changed: was "COPY f /b `) {
		t.Errorf("the same Dockerfile's change is not explained:\n%s", out)
	}
	writeTree(t, e.ctx, map[string]string{"a/Dockerfile": "FROM scratch\nCOPY f /f\nCOPY f /c\n"})
	if out := build("a/Dockerfile", Options{ExplainCache: true}); !strings.Contains(out, `cache miss: instruction changed: was "COPY f /`) {
		t.Errorf("--explain-cache does not compare with the closest record:\n%s", out)
	}
}
