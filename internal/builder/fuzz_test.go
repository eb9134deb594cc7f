package builder

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any Dockerfile text either parses into stages or fails with
// a ParseError (one line naming the file); it never panics.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/conformance/*/Dockerfile")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("# escape=`\nFROM scratch\nRUN <<EOF\nx\nEOF\n"))
	f.Add([]byte("FROM ${X:-scratch} AS a\nCOPY --from=a --chown=${U:?err} . /\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		stages, _, _, err := Parse("Dockerfile", text)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a ParseError: %T %v", err, err)
			}
			return
		}
		if len(stages) == 0 {
			t.Fatal("no stages and no error")
		}
	})
}

// FuzzResolveOwner: --chown and USER values against arbitrary passwd and
// group files resolve or fail, never panic.
func FuzzResolveOwner(f *testing.F) {
	f.Add("app:grp", "app:x:1000:1001::/:/bin/sh\n", "grp:x:1001:\n")
	f.Add("1:2", "", "")
	f.Add("::", "::::\n", ":\n")
	f.Fuzz(func(t *testing.T, spec, passwd, group string) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
		os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(passwd), 0o644)
		os.WriteFile(filepath.Join(dir, "etc/group"), []byte(group), 0o644)
		resolveOwner(dir, spec, false)
		resolveOwner(dir, spec, true)
	})
}
