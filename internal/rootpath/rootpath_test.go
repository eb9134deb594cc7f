package rootpath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestResolve(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) { os.MkdirAll(filepath.Join(root, p), 0o755) }
	file := func(p string) { os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644) }
	link := func(p, target string) { os.Symlink(target, filepath.Join(root, p)) }
	mk("usr/bin")
	file("usr/bin/sh")
	link("bin", "usr/bin")
	link("abs", "/usr/bin")
	link("up", "../../../../usr")
	link("shlink", "bin/sh")
	link("loop", "loop")
	link("viamissing", "missing/../../../etc")
	file("plain")
	cases := []struct {
		name, p string
		o       Options
		want    string
		err     error
	}{
		{"root", "/", Options{}, ".", nil},
		{"plain dirs", "usr/bin/sh", Options{}, "usr/bin/sh", nil},
		{"relative link", "bin/sh", Options{}, "usr/bin/sh", nil},
		{"absolute link restarts at root", "abs/sh", Options{}, "usr/bin/sh", nil},
		{"dotdot stops at root", "../../usr/bin", Options{}, "usr/bin", nil},
		{"link climbing stops at root", "up/bin/sh", Options{}, "usr/bin/sh", nil},
		{"last link kept", "shlink", Options{}, "shlink", nil},
		{"last link followed", "shlink", Options{FollowLast: true}, "usr/bin/sh", nil},
		{"missing", "nope/x", Options{}, "", fs.ErrNotExist},
		{"missing ok", "usr/new/x", Options{MissingOK: true}, "usr/new/x", nil},
		{"missing then dotdot", "usr/new/../../etc", Options{MissingOK: true}, "", fs.ErrNotExist},
		{"link through missing then dotdot", "viamissing/passwd", Options{MissingOK: true}, "", fs.ErrNotExist},
		{"file as dir", "plain/x", Options{}, "", syscall.ENOTDIR},
		{"dir wanted", "plain", Options{Dir: true}, "", syscall.ENOTDIR},
		{"loop", "loop/x", Options{}, "", syscall.ELOOP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(Dir(root), c.p, c.o)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Resolve(%q) = %q, %v; want %v", c.p, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", c.p, got, err, c.want)
			}
		})
	}
}

func TestResolveCreate(t *testing.T) {
	root := t.TempDir()
	os.Symlink("/real", filepath.Join(root, "l"))
	var made []string
	got, err := Resolve(Dir(root), "l/a/b", Options{Create: func(rel string) error {
		made = append(made, rel)
		return os.Mkdir(filepath.Join(root, rel), 0o755)
	}})
	if err != nil || got != "real/a/b" || len(made) != 3 {
		t.Fatalf("Resolve = %q, %v; made %v", got, err, made)
	}
	// The same through *os.Root.
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := Resolve(r, "l/a/b", Options{Dir: true}); err != nil || got != "real/a/b" {
		t.Fatalf("through os.Root: %q, %v", got, err)
	}
}
