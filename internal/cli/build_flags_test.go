package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// buildContext writes files (name -> content) into a new directory.
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuildCheck: --check reports BuildKit's lint rules as docker buildx
// does and exits 1 on a warning, building nothing; a normal build lists
// the same warnings at its end and succeeds.
func TestBuildCheck(t *testing.T) {
	root := t.TempDir()
	warned := buildContext(t, map[string]string{
		"Dockerfile": "FROM scratch as base\nCOPY a /a\nCMD echo hi\n",
		"a":          "a\n",
	})
	clean := buildContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\nCMD [\"/a\"]\n", "a": "a\n"})

	out, errOut, code := strata(t, root, "", "build", "--check", "-t", "never:1", warned)
	if code != 1 {
		t.Errorf("--check with warnings: exit %d, want 1\n%s", code, errOut)
	}
	testutil.Golden(t, "testdata/golden/build-check.golden", out)
	if _, _, code := strata(t, root, "", "image", "inspect", "never:1"); code == 0 {
		t.Error("--check stored an image")
	}

	out, _, code = strata(t, root, "", "build", "--check", clean)
	if code != 0 || out != "Check complete, no warnings found.\n" {
		t.Errorf("--check of a clean Dockerfile: exit %d, %q", code, out)
	}

	_, errOut, code = strata(t, root, "", "build", "--progress", "plain", "-t", "warned:1", warned)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, errOut)
	}
	want := " 2 warnings found:\n" +
		" - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n" +
		" - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 3)\n"
	if !strings.HasSuffix(errOut, want) {
		t.Errorf("build's warnings: stderr ends\n%s\nwant\n%s", errOut[max(0, len(errOut)-400):], want)
	}
	_, errOut, _ = strata(t, root, "", "build", "--progress", "plain", clean)
	if strings.Contains(errOut, "warning") {
		t.Errorf("a clean Dockerfile's build printed warnings:\n%s", errOut)
	}
}
