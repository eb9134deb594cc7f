package builder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// FuzzReadArchive: any file ADD is given (a tar in any compression, a
// broken one, or not an archive) is listed as entries with names inside
// the destination, or copied as a file, or refused; never a panic.
func FuzzReadArchive(f *testing.F) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, name := range []string{"./", "top/", "top/f", "../up", "/abs"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	f.Add(tb.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	f.Add(gz.Bytes())
	f.Add(append(append([]byte{}, xzMagic...), "junk"...))
	f.Add([]byte("\x1f\x8bjunk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "a")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		entries, err := readArchive(file)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.name == "" || e.name == ".." || strings.HasPrefix(e.name, "../") || strings.HasPrefix(e.name, "/") {
				t.Fatalf("entry name %q leaves the destination", e.name)
			}
		}
	})
}
