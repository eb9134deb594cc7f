package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseEnv: an --env-file of any content, with -e values, gives an
// environment of K=V entries or an error.
func FuzzParseEnv(f *testing.F) {
	f.Add([]byte("A=b\n# comment\n\nB\nC=d=e\n"), "X=1\nPATH")
	f.Add([]byte("=x\n\x00\n A = b \n"), "=")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte, flags string) {
		p := filepath.Join(dir, "env")
		if err := os.WriteFile(p, file, 0o644); err != nil {
			t.Fatal(err)
		}
		env, err := ParseEnv(nil, strings.Split(flags, "\n"), []string{p})
		if err != nil {
			return
		}
		for _, e := range env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("entry %q is not K=V", e)
			}
		}
	})
}

// FuzzParseVolume: -v values parse or fail, never panic.
func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/data", "/host:/ctr", "/host:/ctr:ro", "name:/ctr:rw,z", ":", "a:b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { ParseVolume(s) })
}
