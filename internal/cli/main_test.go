package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the strata binary strataBin built (48 MB in /tmp at
// every run of the package's tests otherwise: a CI machine's disk filled
// up with them).
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
