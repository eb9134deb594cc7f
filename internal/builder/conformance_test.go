package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/builder/conformance"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
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

// prepareCase copies a case to a temporary context and runs its setup.sh.
func prepareCase(t *testing.T, name string) (string, map[string]string) {
	t.Helper()
	src := filepath.Join("testdata", "conformance", name)
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
			t.Fatalf("copy case: %v: %s", err, out)
		}
		_ = out
	}
	os.Remove(filepath.Join(dst, "expected.json"))
	if _, err := os.Stat(filepath.Join(dst, "setup.sh")); err == nil {
		cmd := exec.Command("sh", "setup.sh")
		cmd.Dir = dst
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setup.sh: %v: %s", err, out)
		}
		os.Remove(filepath.Join(dst, "setup.sh"))
	}
	args := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(dst, "build-args")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			k, v, _ := strings.Cut(l, "=")
			args[k] = v
		}
		os.Remove(filepath.Join(dst, "build-args"))
	}
	return dst, args
}

// TestConformance builds every case of testdata/conformance and compares
// the result with what docker built (expected.json, see record.sh).
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
			text, err := os.ReadFile(df)
			if err != nil {
				t.Fatal(err)
			}
			if !run && bytes.Contains(text, []byte("\nRUN ")) {
				t.Skip("RUN needs root, overlay and runc or crun")
			}
			want, err := os.ReadFile(filepath.Join(filepath.Dir(df), "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			base := loadBusybox(t, st)
			dir, args := prepareCase(t, name)
			res, err := Build(context.Background(), st, Options{
				ContextDir: dir, Dockerfile: text, DockerfilePath: filepath.Join(dir, "Dockerfile"),
				BuildArgs: args, Compression: layer.Gzip, KeepRunLayers: true,
			})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			im, err := st.Image(res.ImageID)
			if err != nil {
				t.Fatal(err)
			}
			fs, raw, err := imageFS(st, im)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(lastFrom(string(text)), "scratch") {
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
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
				t.Errorf("differs from docker's result:\n%s", lineDiff(string(want), string(got)))
			}
		})
	}
}

func lastFrom(df string) string {
	last := ""
	for _, l := range strings.Split(df, "\n") {
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(l)), "FROM ") {
			last = l
		}
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
