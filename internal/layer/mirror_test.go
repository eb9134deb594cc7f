package layer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMirror turns one tree into another and back while paths kept in
// place (a store under /var, a file at the top, a bind-mounted file) stay
// untouched, as chroot isolation turns the job container's root into a
// step's files: the result holds what the other tree holds, a layer
// written from it is the same bytes, and no directory that only the kept
// paths need reaches the other tree.
func TestMirror(t *testing.T) {
	keep := []string{"/var/lib/store", "/keepme", "/etc/hosts"}
	onlyForKept := map[string]bool{"/var": true, "/var/lib": true}
	skip := func(rel string) bool { return newExcluder(keep).match(rel) || onlyForKept[rel] }
	base := baseLayer(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"plain", plainOps},
		{"opaque", opaqueOps},
		{"image without the kept paths' parents", append([]op{rm("var")}, plainOps...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			root, step := applied(t, tmp, "root", base), applied(t, tmp, "step", base)
			for _, o := range []op{mkdirs("var/lib/store/blobs"), write("var/lib/store/blobs/b", "blob", 0o600), write("keepme", "mine", 0o644), write("etc/hosts", "job's hosts", 0o644)} {
				if err := o(root); err != nil {
					t.Fatal(err)
				}
			}
			for i, o := range tc.ops {
				if err := o(step); err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
			}
			hadVar := fileExists(filepath.Join(step, "var"))
			// The step's files into the root, then changes made there
			// back into the step's tree.
			if err := Mirror(ctx, root, step, keep); err != nil {
				t.Fatal(err)
			}
			if d := diffSnapshots(snapshot(t, step, snapOpts{skip: skip}), snapshot(t, root, snapOpts{skip: skip})); len(d) > 0 {
				t.Errorf("root after mirroring the step's tree:\n%s", strings.Join(d, "\n"))
			}
			for p, want := range map[string]string{"var/lib/store/blobs/b": "blob", "keepme": "mine", "etc/hosts": "job's hosts"} {
				if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
					t.Errorf("kept %s: %q, %v", p, b, err)
				}
			}
			if err := write("srv/made-by-run", "new", 0o644)(root); err != nil {
				t.Fatal(err)
			}
			if err := Mirror(ctx, step, root, keep); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"var/lib/store", "keepme"} {
				if _, err := os.Lstat(filepath.Join(step, p)); err == nil {
					t.Errorf("kept path %s reached the step's tree", p)
				}
			}
			if !hadVar && fileExists(filepath.Join(step, "var")) {
				t.Errorf("/var, only on the way to a kept path, reached the step's tree")
			}
			// The step's layer is the one of the same changes made in
			// a tree of its own.
			want := applied(t, tmp, "want", base)
			for _, o := range append(tc.ops, write("srv/made-by-run", "new", 0o644)) {
				if err := o(want); err != nil {
					t.Fatal(err)
				}
			}
			ts := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
			lower := applied(t, tmp, "lower", base)
			var fromWant, fromStep bytes.Buffer
			opts := DiffOptions{Timestamp: &ts, Exclude: keep}
			if err := WriteDiffFromTrees(&fromStep, lower, step, opts); err != nil {
				t.Fatal(err)
			}
			if err := WriteDiffFromTrees(&fromWant, lower, want, opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fromWant.Bytes(), fromStep.Bytes()) {
				t.Errorf("layers differ:\nwant: %q\nstep: %q", tarNames(t, fromWant.Bytes()), tarNames(t, fromStep.Bytes()))
			}
			if !strings.Contains(strings.Join(tarNames(t, fromStep.Bytes()), " "), "srv/made-by-run") {
				t.Errorf("the file made in the root is not in the step's layer: %q", tarNames(t, fromStep.Bytes()))
			}
		})
	}
}

func TestMirrorRefusesFileOverKeptPath(t *testing.T) {
	tmp := t.TempDir()
	base := baseLayer(t)
	root, step := applied(t, tmp, "root", base), applied(t, tmp, "step", base)
	if err := mkdirs("srv/store")(root); err != nil {
		t.Fatal(err)
	}
	if err := rm("srv")(step); err != nil {
		t.Fatal(err)
	}
	if err := write("srv", "a file", 0o644)(step); err != nil {
		t.Fatal(err)
	}
	err := Mirror(context.Background(), root, step, []string{"/srv/store"})
	if err == nil || !strings.Contains(err.Error(), "/srv") {
		t.Fatalf("got %v, want a refusal naming /srv", err)
	}
	if !fileExists(filepath.Join(root, "srv/store")) {
		t.Error("the kept path is gone")
	}
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
