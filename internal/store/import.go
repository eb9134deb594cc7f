package store

import (
	"bufio"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// ImportOptions refine Import.
type ImportOptions struct {
	// Changes are Dockerfile instructions applied to the config (import -c).
	Changes []string
	// Message is the history comment (default "Imported from -").
	Message string
	// Names are given to the image.
	Names []image.Reference
}

// Import makes a one-layer image of a root filesystem tarball, as `docker
// import` does. gzip and zstd tarballs are stored as they are (no
// recompression); bzip2 and xz are stored uncompressed, as no registry
// takes them.
func (s *Store) Import(src io.Reader, o ImportOptions) (*metadata.Image, error) {
	lock, err := s.Writing()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	br := bufio.NewReaderSize(src, 1<<20)
	head, _ := br.Peek(6)
	var r io.Reader = br
	switch c := layer.Detect(head); c {
	case layer.Bzip2, layer.Xz:
		dr, err := layer.NewReader(br, c)
		if err != nil {
			return nil, err
		}
		defer dr.Close()
		r = dr
	}
	rec, err := s.WriteLayer(r, "", -1, "")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	comment := "Imported from -"
	if o.Message != "" {
		comment = o.Message
	}
	return s.NewImage(NewImageOptions{
		Steps: []NewLayer{{Blob: &rec, History: ocispec.History{Comment: comment}}},
		Config: func(cfg *image.ConfigFile) error {
			cfg.Comment = comment
			return changes.Apply(&cfg.Config, o.Changes)
		},
		Names: o.Names,
	})
}
