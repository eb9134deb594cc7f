package buildctx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

// A symlink whose target climbs through a missing directory must not lead
// a COPY source out of the context.
func TestResolveMissingThenDotDotStaysInside(t *testing.T) {
	parent := t.TempDir()
	ctx := filepath.Join(parent, "ctx")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(parent, "secret"), []byte("host file"), 0o644)
	os.Symlink("missing/../../secret", filepath.Join(ctx, "a"))
	os.Symlink("missing/../../../secret", filepath.Join(ctx, "b"))
	f := &FS{Root: ctx}
	for _, name := range []string{"a", "b"} {
		e, err := f.Stat(name)
		if err == nil {
			t.Fatalf("Stat(%s) = %s (abs %s): a path outside the context", name, e.Rel, e.Abs)
		}
		if !errdefs.IsNotFound(err) && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Stat(%s): %v, want not found", name, err)
		}
		if strings.Contains(err.Error(), parent+"/secret") {
			t.Fatalf("error names the outside path: %v", err)
		}
	}
}
