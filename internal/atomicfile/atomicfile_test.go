package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the old file and no temporary one.
	boom := errors.New("boom")
	if err := Write(p, func(w io.Writer) error { w.Write([]byte("half")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "one" {
		t.Errorf("file %q %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestWriteRefusedPaths(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "f"), `invalid output path: directory "` + filepath.Join(dir, "missing") + `" does not exist`},
		{dir, `invalid output path: "` + dir + `" is a directory`},
	} {
		called := false
		err := Write(tc.path, func(io.Writer) error { called = true; return nil })
		if err == nil || err.Error() != tc.want {
			t.Errorf("Write(%s) = %v, want %s", tc.path, err, tc.want)
		}
		if called {
			t.Errorf("Write(%s) wrote", tc.path)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
