package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// layerDigest is a layer's digest in scan's table: the Go program's layer
// has the toolchain's bytes, so golden files leave digests out.
var layerDigest = regexp.MustCompile(`(?m)^(LAYER \d+ ) [0-9a-f]{12}`)

// TestScan scans the fixture image (a Go program with golang.org/x/net
// v0.16.0 in layer 2, deleted by layer 3; glibc 2.36-9+deb12u1 in layer 0)
// against golang/vulndb's GO-2023-2102 and DSA-5514-1, imported from the
// vuln package's test records.
func TestScan(t *testing.T) {
	root := scanFixture(t)
	db := filepath.Join(t.TempDir(), "osv")
	out, errOut, code := strata(t, root, "", "scan", "--db", db, "--db-import", "../vuln/testdata/db")
	if code != 0 || !strings.HasPrefix(out, "imported 7 advisories into ") || !strings.Contains(errOut, "BROKEN-1.json") {
		t.Fatalf("import: exit %d: %s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"table", nil, 0},
		{"exit-code", []string{"--exit-code", "3"}, 3},
		{"only-present", []string{"--only-present"}, 0},
		{"severity-none-left", []string{"--severity", "CRITICAL,HIGH", "--exit-code", "3"}, 0},
		{"bad-severity", []string{"--severity", "SEVERE"}, 1},
		{"bad-format", []string{"--format", "xml"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"scan", "--db", db}, tc.args...), "app:1")
			out, errOut, code := strata(t, root, "", args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errOut)
			}
			testutil.Golden(t, "testdata/scan/"+tc.name+".golden", layerDigest.ReplaceAllString(out, "$1 DIGEST")+errOut)
		})
	}

	out, errOut, code = strata(t, root, "", "scan", "--db", db, "--format", "json", "app:1")
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, errOut)
	}
	var r struct {
		Findings []struct {
			ID, Package, Fixed string
			Layer, RemovedIn   int
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range r.Findings {
		if f.ID == "GO-2023-2102" && f.Package == "golang.org/x/net" {
			found = f.Layer == 2 && f.RemovedIn == 3 && f.Fixed == "0.17.0"
		}
	}
	if !found {
		t.Errorf("GO-2023-2102 not reported in layer 2, removed in 3: %s", out)
	}

	sarif := filepath.Join(t.TempDir(), "scan.sarif")
	if _, errOut, code := strata(t, root, "", "scan", "--db", db, "--format", "sarif", "-o", sarif, "app:1"); code != 0 {
		t.Fatalf("sarif: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(sarif); err != nil || !json.Valid(b) || !strings.Contains(string(b), `"ruleId": "GO-2023-2102"`) {
		t.Errorf("sarif file: %v\n%s", err, b)
	}

	if _, errOut, code := strata(t, root, "", "scan", "--db", filepath.Join(db, "none"), "app:1"); code != 1 || !strings.Contains(errOut, "--db-import") {
		t.Errorf("missing db: exit %d: %s", code, errOut)
	}
}

// TestImageDiffFindings: with --db, image diff matches both images'
// packages and lists the findings that differ (none for one image).
func TestImageDiffFindings(t *testing.T) {
	root := scanFixture(t)
	db := filepath.Join(t.TempDir(), "osv")
	if _, errOut, code := strata(t, root, "", "scan", "--db", db, "--db-import", "../vuln/testdata/db"); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	out, errOut, code := strata(t, root, "", "image", "diff", "--db", db, "app:1", "app:1")
	if code != 0 || !strings.Contains(out, "\n0 packages added, 0 removed, 0 changed\n") || !strings.Contains(out, "\n0 findings fixed in B's final filesystem, 0 added\n") {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
	if _, errOut, code := strata(t, root, "", "image", "diff", "--db", filepath.Join(db, "missing"), "app:1", "app:1"); code == 0 || !strings.Contains(errOut, "--db-import") {
		t.Errorf("missing db: exit %d: %s", code, errOut)
	}
}
