package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/builder/conformance"
	"github.com/strata-dev/strata/internal/builder/output"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/sandbox"
	"github.com/strata-dev/strata/internal/store"
)

var conformanceCase = flag.String("conformance.case", "", "run only this conformance case")

// loadBusybox loads the base image the corpus was recorded with.
func loadBusybox(t *testing.T, st *store.Store) *conformance.FS {
	t.Helper()
	f, err := os.Open("testdata/conformance/busybox.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := layer.Decompress(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Load(st, r); err != nil {
		t.Fatal(err)
	}
	im, err := st.Resolve("localhost:5000/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := imageFS(st, im)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// imageFS applies a stored image's layers in memory.
func imageFS(st *store.Store, im *metadata.Image) (*conformance.FS, []byte, error) {
	fs := conformance.NewFS()
	for _, l := range im.Layers {
		// OpenBlob: a layer kept as its snapshot is written again here,
		// and checked against its digest.
		f, err := st.OpenBlob(l.Digest)
		if err != nil {
			return nil, nil, err
		}
		r, _, err := layer.Decompress(f)
		if err == nil {
			err = fs.Apply(r)
			if err == nil {
				// To the end, where a kept layer's digest is checked.
				_, err = io.Copy(io.Discard, f)
			}
			r.Close()
		}
		f.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	_, raw, err := st.Config(im)
	return fs, raw, err
}

// canRun reports whether RUN steps can run here: root, overlay and an OCI
// runtime.
func canRun() bool {
	if os.Geteuid() != 0 {
		return false
	}
	for _, r := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(r); err == nil {
			return true
		}
	}
	return false
}

// confCase is one directory of testdata/conformance (see record.sh for
// what each file means).
type confCase struct {
	name       string
	dockerfile []byte
	dir        string // the build context, made by setup.sh
	args       map[string]string
	target     string
	baseImport []string        // --change lines; nil: no imported base
	ssh        bool            // --ssh default, with an ssh-agent of its own
	sandbox    sandbox.Options // from flags: --add-host, --ulimit, --shm-size
	output     string          // "tar": -o type=tar, nothing stored
	want       []byte          // expected.json
	wantErr    *expectedError
}

// expectedError is a case docker refused: strata must refuse it too,
// naming the same Dockerfile line (none for what is about no line: an
// empty Dockerfile, an unknown --target) and saying match.
type expectedError struct {
	line  int // 0: none
	match string
	known bool // the line was given
}

// caseFiles are the harness's files, not part of a build context.
var caseFiles = []string{"expected.json", "expected-error", "build-args", "target", "base-import", "ssh", "output", "flags", "notes", "setup.sh"}

// loadCase copies a case to a temporary context, runs its setup.sh and
// reads the harness's files.
func loadCase(t *testing.T, name string) *confCase {
	t.Helper()
	src := filepath.Join("testdata", "conformance", name)
	c := &confCase{name: name, dir: filepath.Join(t.TempDir(), name), args: map[string]string{}}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src+"/.", c.dir+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy case: %v: %s", err, out)
	}
	var err error
	if c.dockerfile, err = os.ReadFile(filepath.Join(src, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	read := func(f string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(src, f))
		return string(b), err == nil
	}
	for _, l := range lines(read("build-args")) {
		k, v, _ := strings.Cut(l, "=")
		c.args[k] = v
	}
	if s, ok := read("target"); ok {
		c.target = strings.TrimSpace(s)
	}
	if s, ok := read("base-import"); ok {
		c.baseImport = append([]string{}, lines(s, true)...)
	}
	_, c.ssh = read("ssh")
	var f sandbox.Flags
	for _, l := range lines(read("flags")) {
		flag, v, _ := strings.Cut(l, " ")
		switch flag {
		case "--add-host":
			f.AddHost = append(f.AddHost, v)
		case "--ulimit":
			f.Ulimit = append(f.Ulimit, v)
		case "--shm-size":
			f.ShmSize = v
		default:
			t.Fatalf("flags: %q is not a sandbox flag of build", flag)
		}
	}
	if c.sandbox, err = sandbox.Parse(f); err != nil {
		t.Fatal(err)
	}
	if s, ok := read("output"); ok {
		if c.output = strings.TrimSpace(s); c.output != "tar" {
			t.Fatalf("output %q: only tar is compared", c.output)
		}
	}
	if s, ok := read("expected-error"); ok {
		c.wantErr = parseExpectedError(t, s)
	} else if s, ok := read("expected.json"); ok {
		c.want = []byte(s)
	} else {
		t.Fatal("case has neither expected.json nor expected-error")
	}
	if _, err := os.Stat(filepath.Join(c.dir, "setup.sh")); err == nil {
		cmd := exec.Command("sh", "setup.sh")
		cmd.Dir = c.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setup.sh: %v: %s", err, out)
		}
	}
	for _, f := range caseFiles {
		os.Remove(filepath.Join(c.dir, f))
	}
	return c
}

// lines are a file's non-empty lines.
func lines(s string, ok bool) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

func parseExpectedError(t *testing.T, s string) *expectedError {
	t.Helper()
	e := &expectedError{}
	for _, l := range lines(s, true) {
		k, v, _ := strings.Cut(l, ": ")
		switch k {
		case "line":
			e.known = true
			if v == "none" {
				break
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("expected-error: line %q is neither a line number nor none", v)
			}
			e.line = n
		case "match":
			e.match = v
		}
	}
	if !e.known || e.match == "" {
		t.Fatal("expected-error needs a line (or line: none) and a match")
	}
	return e
}

// importBase makes conformance-base:imported from busybox's root
// filesystem with no config, as `docker import` does.
func importBase(t *testing.T, st *store.Store, changes []string) {
	t.Helper()
	bb, err := st.Resolve("localhost:5000/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.OpenBlob(bb.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, err := image.ParseReference("conformance-base:imported")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(f, store.ImportOptions{Changes: changes, Names: []image.Reference{ref}}); err != nil {
		t.Fatal(err)
	}
}

// TestConformance builds every case of testdata/conformance and compares
// the result with what docker built (expected.json, see record.sh), or,
// for a case docker refused, checks that strata refuses it at the same
// line (expected-error).
func TestConformance(t *testing.T) {
	cases, err := filepath.Glob("testdata/conformance/*/Dockerfile")
	if err != nil || len(cases) == 0 {
		t.Fatal("no conformance cases")
	}
	run := canRun()
	for _, df := range cases {
		name := filepath.Base(filepath.Dir(df))
		if *conformanceCase != "" && name != *conformanceCase {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// Cases are independent (a store each); a RUN step mostly
			// waits for its container, so they overlap well.
			t.Parallel()
			c := loadCase(t, name)
			if !run && bytes.Contains(c.dockerfile, []byte("\nRUN ")) {
				t.Skip("RUN needs root, overlay and runc or crun")
			}
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			base := loadBusybox(t, st)
			if c.baseImport != nil {
				importBase(t, st, c.baseImport)
			}
			o := Options{
				ContextDir: c.dir, Dockerfile: c.dockerfile, DockerfilePath: filepath.Join(c.dir, "Dockerfile"),
				BuildArgs: c.args, Target: c.target, Compression: layer.Gzip, KeepRunLayers: true,
				Sandbox: c.sandbox,
			}
			if c.ssh {
				o.SSH = map[string]string{DefaultSSH: startAgent(t)}
			}
			var rootfs bytes.Buffer
			if c.output != "" {
				o.Output = func(ctx context.Context, src image.Source) error { return output.WriteRootfs(ctx, &rootfs, src) }
			}
			res, err := Build(context.Background(), st, o)
			if c.wantErr != nil {
				checkRefused(t, err, c.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if c.output != "" {
				checkOutput(t, st, &rootfs, c.want)
				return
			}
			im, err := st.Image(res.ImageID)
			if err != nil {
				t.Fatal(err)
			}
			fs, raw, err := imageFS(st, im)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(builtFrom(string(c.dockerfile), c.target), "scratch") {
				base = conformance.NewFS()
			}
			cfg, err := conformance.ConfigFields(raw)
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := st.Fsck(); err != nil || len(rep.Problems) > 0 {
				t.Errorf("fsck: %v %v", err, rep.Problems)
			}
			got, _ := json.MarshalIndent(conformance.Result{Layers: len(im.Layers), Config: cfg, Files: fs.Diff(base)}, "", "  ")
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(c.want)) {
				t.Errorf("differs from docker's result:\n%s", lineDiff(string(c.want), string(got)))
			}
		})
	}
}

// checkOutput compares a build's -o type=tar with docker's, and checks
// that nothing was stored.
func checkOutput(t *testing.T, st *store.Store, rootfs io.Reader, want []byte) {
	t.Helper()
	fs := conformance.NewFS()
	if err := fs.Apply(rootfs); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(conformance.Result{Files: fs.Diff(conformance.NewFS())}, "", "  ")
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Errorf("differs from docker's -o type=tar:\n%s", lineDiff(string(want), string(got)))
	}
	if ims, err := st.Images(); err != nil || len(ims) != 1 {
		t.Errorf("stored images: %d %v, want the base only", len(ims), err)
	}
}

// startAgent runs an ssh-agent of the test's own and returns its socket.
func startAgent(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("ssh-agent (Debian's openssh-client): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("ssh-agent made no socket")
	return ""
}

// checkRefused checks a build docker refused: strata's error names the
// same Dockerfile line and says what docker's says.
func checkRefused(t *testing.T, err error, want *expectedError) {
	t.Helper()
	if err == nil {
		t.Fatalf("built; docker refuses at line %d: %s", want.line, want.match)
	}
	msg := err.Error()
	if at := fmt.Sprintf("Dockerfile:%d:", want.line); want.line > 0 && !strings.Contains(msg, at) {
		t.Errorf("error %q does not name %s", msg, at)
	}
	if !strings.Contains(strings.ToLower(msg), strings.ToLower(want.match)) {
		t.Errorf("error %q does not say %q", msg, want.match)
	}
}

// builtFrom is the FROM line of the stage built: the target's, or the
// last.
func builtFrom(df, target string) string {
	last := ""
	for _, l := range strings.Split(df, "\n") {
		f := strings.Fields(strings.ToLower(l))
		if len(f) == 0 || f[0] != "from" {
			continue
		}
		if target != "" && len(f) >= 4 && f[len(f)-2] == "as" && f[len(f)-1] == strings.ToLower(target) {
			return l
		}
		last = l
	}
	return last
}

// lineDiff shows the lines only one side has.
func lineDiff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[strings.TrimSuffix(strings.TrimSpace(l), ",")] = true
	}
	g := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[strings.TrimSuffix(strings.TrimSpace(l), ",")] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if k := strings.TrimSuffix(strings.TrimSpace(l), ","); !g[k] {
			b.WriteString("docker: " + k + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if k := strings.TrimSuffix(strings.TrimSpace(l), ","); !w[k] {
			b.WriteString("strata: " + k + "\n")
		}
	}
	return b.String()
}
