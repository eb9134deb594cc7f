package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopyLinkSurvivesBaseChange: a COPY --link layer does not depend on
// what is below it, so a changed earlier step finds it in the cache (same
// layer digest, a cache hit), while the same COPY without --link runs
// again.
func TestCopyLinkSurvivesBaseChange(t *testing.T) {
	for _, tc := range []struct {
		flag   string
		reused bool
	}{
		{"--link", true},
		{"", false},
		{"--link --chmod=600", false}, // BuildKit copies --chmod the usual way
	} {
		t.Run(strings.TrimSpace("copy "+tc.flag), func(t *testing.T) {
			e := newEnv(t, map[string]string{"base.txt": "one", "app/a.txt": "a", "app/sub/b.txt": "b"})
			df := []byte("FROM scratch\nCOPY base.txt /\nCOPY " + tc.flag + " app/ /srv/app/\nCOPY base.txt /again\n")
			first, _, err := e.build(Options{Dockerfile: df})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.ctx, "base.txt"), []byte("two"), 0o644); err != nil {
				t.Fatal(err)
			}
			second, out, err := e.build(Options{Dockerfile: df})
			if err != nil {
				t.Fatal(err)
			}
			a, b := layersOf(t, e, first), layersOf(t, e, second)
			if len(a) != 3 || len(b) != 3 {
				t.Fatalf("layers: %d and %d, want 3", len(a), len(b))
			}
			if a[0] == b[0] {
				t.Fatal("the changed first step kept its layer")
			}
			// Without --link the step is made again (to the same
			// bytes here: nothing it reads of the base changed).
			if tc.reused && a[1] != b[1] {
				t.Errorf("--link layer changed: %s, then %s", a[1], b[1])
			}
			wantCached := 0
			if tc.reused {
				wantCached = 1
			}
			if second.Cached != wantCached {
				t.Errorf("cached steps: %d, want %d\n%s", second.Cached, wantCached, out)
			}
			// The step after the link depends on the changed base.
			if second.ImageID == first.ImageID {
				t.Error("same image after a change")
			}
		})
	}
}

// TestCopyLinkRefusesNames: names cannot be resolved on the empty root a
// --link copy runs on, as BuildKit says.
func TestCopyLinkRefusesNames(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "a"})
	for _, chown := range []string{"app", "1:grp", "app:1"} {
		_, _, err := e.build(Options{Dockerfile: []byte("FROM scratch\nCOPY --link --chown=" + chown + " a /a\n")})
		if err == nil || !strings.Contains(err.Error(), "can't be resolved when used with --link") {
			t.Errorf("--chown=%s: %v", chown, err)
		}
	}
	if _, _, err := e.build(Options{Dockerfile: []byte("FROM scratch\nCOPY --link --chown=1:2 a /a\n")}); err != nil {
		t.Errorf("numeric --chown: %v", err)
	}
}

func layersOf(t *testing.T, e *env, res *Result) []string {
	t.Helper()
	im, err := e.st.Image(res.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range im.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}
