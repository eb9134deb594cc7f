// Package atomicfile writes a file whole or not at all: the bytes go to a
// temporary file beside it, renamed over it once complete, so that a
// reader never sees half a file and a failure leaves none.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckPath refuses a path Write cannot make, in docker's words (save):
// one whose directory does not exist, or a directory. Callers that write
// for a long time call it first, so that nothing is done in vain.
func CheckPath(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("invalid output path: directory %q does not exist", dir)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("invalid output path: %q is a directory", path)
	}
	return nil
}

// Write runs write on a new file renamed to path (mode 0644) when write
// and the close succeed.
func Write(path string, write func(io.Writer) error) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".strata-tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
