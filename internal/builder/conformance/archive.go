package conformance

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/strata-dev/strata/internal/layer"
)

// FromDockerArchive reads the image of a `docker save` archive: its config
// and its layers applied in order.
func FromDockerArchive(file string) (*FS, []byte, int, error) {
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := readMember(file, "manifest.json", func(r io.Reader) error { return json.NewDecoder(r).Decode(&manifest) }); err != nil {
		return nil, nil, 0, err
	}
	if len(manifest) != 1 {
		return nil, nil, 0, fmt.Errorf("%s: want one image, got %d", file, len(manifest))
	}
	var cfg []byte
	if err := readMember(file, manifest[0].Config, func(r io.Reader) (err error) { cfg, err = io.ReadAll(r); return }); err != nil {
		return nil, nil, 0, err
	}
	fs := NewFS()
	for _, l := range manifest[0].Layers {
		err := readMember(file, l, func(r io.Reader) error {
			dr, _, err := layer.Decompress(r)
			if err != nil {
				return err
			}
			defer dr.Close()
			return fs.Apply(dr)
		})
		if err != nil {
			return nil, nil, 0, err
		}
	}
	return fs, cfg, len(manifest[0].Layers), nil
}

func readMember(file, name string, fn func(io.Reader) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := layer.Decompress(f)
	if err != nil {
		return err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", file, name, err)
		}
		if h.Name == name {
			return fn(tr)
		}
	}
}

// FromRootfsTar reads a root filesystem written as one tar (docker build
// -o type=tar).
func FromRootfsTar(file string) (*FS, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fs := NewFS()
	return fs, fs.Apply(f)
}
