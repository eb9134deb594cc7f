package cli

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// analyzeFixture is a store with one image: a file added then overwritten
// with the same bytes by a chmod, a file deleted, a tree re-owned.
func analyzeFixture(t *testing.T) string {
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Image(t, st, nil, "waste:1",
		testutil.Tar(t, testutil.Entry{Name: "bin/"}, testutil.Entry{Name: "bin/sh", Body: strings.Repeat("s", 3000), Mode: 0o755}),
		testutil.Tar(t, testutil.Entry{Name: "data/"}, testutil.Entry{Name: "data/big", Body: strings.Repeat("b", 50000)},
			testutil.Entry{Name: "data/keep", Body: strings.Repeat("k", 7000)}),
		testutil.Tar(t, testutil.Entry{Name: "data/"}, testutil.Entry{Name: "data/.wh.big"},
			testutil.Entry{Name: "data/keep", Body: strings.Repeat("k", 7000), Mode: 0o600}),
	)
	return root
}

func TestAnalyze(t *testing.T) {
	root := analyzeFixture(t)
	cfgDir := t.TempDir()
	passing := filepath.Join(cfgDir, "pass.yaml")
	os.WriteFile(passing, []byte("rules:\n  lowest-efficiency: 0.1\n  highest-wasted-bytes: 1MB\n  highest-user-wasted-percent: 1\n"), 0o644)
	diveCI := filepath.Join(cfgDir, ".dive-ci")
	os.WriteFile(diveCI, []byte("plugins:\n  - plugin1\nrules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20Mb\n  highestUserWastedPercent: 0.5\n  plugin1/rule1: error\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"text", []string{"analyze", "waste:1"}, 0},
		{"ci-default-fails", []string{"analyze", "--ci", "waste:1"}, 1},
		{"ci-flags-pass", []string{"analyze", "--ci", "--lowest-efficiency", "0.1", "--highest-user-wasted-percent", "disabled", "waste:1"}, 0},
		{"ci-wasted-bytes-fails", []string{"analyze", "--ci", "--lowest-efficiency", "off", "--highest-user-wasted-percent", "off", "--highest-wasted-bytes", "10kB", "waste:1"}, 1},
		{"ci-config-pass", []string{"analyze", "--ci", "--ci-config", passing, "waste:1"}, 0},
		{"ci-dive-config", []string{"analyze", "--ci", "--ci-config", diveCI, "waste:1"}, 1},
		{"tree", []string{"analyze", "--tree", "waste:1"}, 0},
		{"tree-layer-1", []string{"analyze", "--tree=layer", "--layer", "1", "waste:1"}, 0},
		{"bad-rule", []string{"analyze", "--ci", "--lowest-efficiency", "2", "waste:1"}, 1},
		{"bad-layer", []string{"analyze", "--tree", "--layer", "9", "waste:1"}, 1},
		{"no-image", []string{"analyze", "nope:1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := strata(t, root, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errOut)
			}
			testutil.Golden(t, "testdata/analyze/"+tc.name+".golden", out+errOut)
		})
	}
}

func TestAnalyzeJSON(t *testing.T) {
	root := analyzeFixture(t)
	out, errOut, code := strata(t, root, "", "analyze", "--format", "json", "--ci", "waste:1")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		SizeBytes    int64   `json:"sizeBytes"`
		Efficiency   float64 `json:"efficiency"`
		WastedBytes  int64   `json:"wastedBytes"`
		WastedCopies []struct {
			Path       string `json:"path"`
			WrittenBy  int    `json:"writtenBy"`
			ReplacedBy int    `json:"replacedBy"`
			How        string `json:"how"`
		} `json:"wastedCopies"`
		MetadataOnlyLayers []int `json:"metadataOnlyLayers"`
		Duplicates         []struct {
			Size int64 `json:"size"`
		} `json:"duplicates"`
		Layers []struct {
			Instruction string `json:"instruction"`
			Removed     struct{ Files, Bytes int64 }
		} `json:"layers"`
		CI struct{ Pass bool } `json:"ci"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// dive: /data/big 50000 + 0 (removed), /data/keep 7000 + 7000.
	if r.SizeBytes != 67000 || r.WastedBytes != 64000 || r.Efficiency != 10000.0/67000 {
		t.Errorf("size %d wasted %d efficiency %v", r.SizeBytes, r.WastedBytes, r.Efficiency)
	}
	if len(r.WastedCopies) != 2 || r.WastedCopies[0].Path != "/data/big" || r.WastedCopies[0].How != "removed" ||
		r.WastedCopies[1].How != "metadata-only" || r.WastedCopies[1].WrittenBy != 1 || r.WastedCopies[1].ReplacedBy != 2 {
		t.Errorf("wasted copies %+v", r.WastedCopies)
	}
	if len(r.Duplicates) != 1 || r.Duplicates[0].Size != 7000 {
		t.Errorf("duplicates %+v", r.Duplicates)
	}
	if len(r.Layers) != 3 || r.Layers[2].Instruction != "layer 2" || r.Layers[2].Removed.Files != 1 || r.Layers[2].Removed.Bytes != 50000 {
		t.Errorf("layers %+v", r.Layers)
	}
	if r.CI.Pass {
		t.Error("ci passed")
	}
}

func TestAnalyzeHTML(t *testing.T) {
	root := analyzeFixture(t)
	page := filepath.Join(t.TempDir(), "a.html")
	out, errOut, code := strata(t, root, "", "analyze", "--html", page, "waste:1")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"instruction":"layer 2"`) {
		t.Error("the page lacks its data")
	}
}

// TestAnalyzeArchives: an image saved as docker-archive, oci-archive and an
// OCI layout directory gives the same figures as in the store.
func TestAnalyzeArchives(t *testing.T) {
	root := analyzeFixture(t)
	dir := t.TempDir()
	figures := func(ref string) string {
		t.Helper()
		out, errOut, _ := strata(t, root, "", "analyze", "--format", "json", ref)
		var r struct {
			SizeBytes    int64   `json:"sizeBytes"`
			Efficiency   float64 `json:"efficiency"`
			WastedBytes  int64   `json:"wastedBytes"`
			WastedCopies []any   `json:"wastedCopies"`
			Layers       []any   `json:"layers"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v: %s", ref, err, errOut)
		}
		return fmt.Sprintf("%d %v %d %d %d", r.SizeBytes, r.Efficiency, r.WastedBytes, len(r.WastedCopies), len(r.Layers))
	}
	want := figures("waste:1")
	docker, oci := filepath.Join(dir, "d.tar"), filepath.Join(dir, "o.tar")
	for _, args := range [][]string{{"save", "-o", docker, "waste:1"}, {"save", "--format", "oci-archive", "-o", oci, "waste:1"}} {
		if _, errOut, code := strata(t, root, "", args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	layout := filepath.Join(dir, "layout")
	if err := untar(oci, layout); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"docker-archive:" + docker, "oci-archive:" + oci, "oci:" + layout} {
		if got := figures(ref); got != want {
			t.Errorf("%s: %s, the store says %s", ref, got, want)
		}
	}
	if _, errOut, code := strata(t, root, "", "analyze", "docker-archive:"+filepath.Join(dir, "none.tar")); code == 0 || errOut == "" {
		t.Error("a missing archive was analysed")
	}
}

func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
}
