// Package atomicfile writes a file whole or not at all: the bytes go to a
// temporary file beside it, renamed over it once complete, so that a
// reader never sees half a file and a failure leaves none.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write runs write on a new file renamed to path (mode 0644) when write
// and the close succeed.
func Write(path string, write func(io.Writer) error) error {
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
