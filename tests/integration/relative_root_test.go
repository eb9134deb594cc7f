package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRelativeRoot uses the store as a user who types a relative --root (or
// STRATA_ROOT) does: run and a build's RUN step hand paths to runc from
// another directory, so the root must be made absolute before anything
// joins it (issue 13: it was joined twice and runc found no rootfs).
func TestRelativeRoot(t *testing.T) {
	base := busyboxTar(t)
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(bin, args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "STRATA_ROOT=")
				if how == "flag" {
					cmd.Args = append([]string{bin, "--root", "store"}, args...)
				} else {
					cmd.Env = append(cmd.Env, "STRATA_ROOT=store")
				}
				var o, e bytes.Buffer
				cmd.Stdout, cmd.Stderr = &o, &e
				if err := cmd.Run(); err != nil {
					t.Fatalf("strata %s: %v: %s", strings.Join(args, " "), err, e.String())
				}
				return o.String()
			}
			run("import", base, "base:1")
			if out := run("run", "--rm", "base:1", "echo", "hello"); out != "hello\n" {
				t.Fatalf("run printed %q, want hello", out)
			}
			ctx := filepath.Join(dir, "ctx")
			os.Mkdir(ctx, 0o755)
			df := "FROM base:1\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n"
			if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
				t.Fatal(err)
			}
			run("build", "-q", "-t", "app:1", "ctx")
			if out := run("run", "--rm", "app:1"); out != "built\n" {
				t.Fatalf("built image printed %q, want built", out)
			}
			if _, err := os.Stat(filepath.Join(dir, "store", "meta.db")); err != nil {
				t.Fatalf("the store is not where --root said: %v", err)
			}
		})
	}
}
