package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/store"
)

func init() {
	register(func(a *app) *cobra.Command {
		var changeList []string
		var message string
		c := &cobra.Command{
			Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
			Short: "Import the contents from a tarball to create a filesystem image",
			Args:  cobra.RangeArgs(1, 2),
			RunE: func(cmd *cobra.Command, args []string) error {
				var names []image.Reference
				if len(args) == 2 {
					r, err := image.ParseTagged(args[1])
					if err != nil {
						return err
					}
					names = append(names, r)
				}
				// Check the changes before reading a possibly large tarball.
				var probe image.ContainerConfig
				if err := changes.Apply(&probe, changeList); err != nil {
					return err
				}
				var src io.Reader = a.stdin
				if args[0] != "-" {
					f, err := os.Open(args[0])
					if err != nil {
						return err
					}
					defer f.Close()
					src = f
				}
				st, err := a.store()
				if err != nil {
					return err
				}
				id, err := importTarball(st, src, changeList, message, names)
				if err != nil {
					return err
				}
				a.println(id)
				return nil
			},
		}
		c.Flags().StringArrayVarP(&changeList, "change", "c", nil, "Apply Dockerfile instruction to the created image")
		c.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
		return c
	})
}

// importTarball makes a one-layer image of a root filesystem tarball, as
// `docker import` does. gzip and zstd tarballs are stored as they are (no
// recompression); bzip2 is stored uncompressed, as no registry takes it.
func importTarball(st *store.Store, src io.Reader, changeList []string, message string, names []image.Reference) (string, error) {
	lock, err := st.Writing()
	if err != nil {
		return "", err
	}
	defer lock.Unlock()

	br := bufio.NewReaderSize(src, 1<<20)
	head, _ := br.Peek(6)
	var r io.Reader = br
	switch c := layer.Detect(head); c {
	case layer.Bzip2, layer.Xz:
		dr, err := layer.NewReader(br, c)
		if err != nil {
			return "", err
		}
		defer dr.Close()
		r = dr
	}
	blob, err := layer.Ingest(st.Content, r, "", -1)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	rec, err := st.IngestLayer(blob, store.LayerMediaType(blob.Compression))
	if err != nil {
		return "", err
	}
	comment := "Imported from -"
	if message != "" {
		comment = message
	}
	im, err := st.NewImage(store.NewImageOptions{
		Steps: []store.NewLayer{{Blob: &rec, History: ocispec.History{Comment: comment}}},
		Config: func(cfg *image.ConfigFile) error {
			cfg.Comment = comment
			return changes.Apply(&cfg.Config, changeList)
		},
		Names: names,
	})
	if err != nil {
		return "", err
	}
	return im.ID.String(), nil
}
