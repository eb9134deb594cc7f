package analyze

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadRules: a --ci-config file (dive's .dive-ci) of any content is
// read or refused, and rules read from it evaluate or fail with an error.
func FuzzLoadRules(f *testing.F) {
	f.Add([]byte("rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: 0.1\n"))
	f.Add([]byte("rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: 1.5 GB\n"))
	f.Add([]byte("rules: [1, 2]\n"))
	f.Add([]byte("{{{"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "ci.yaml")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := LoadRules(p, DefaultRules())
		if err != nil {
			return
		}
		Evaluate(&Result{Efficiency: 0.5, WastedBytes: 1 << 20, WastedUserPercent: 0.2}, r)
	})
}
