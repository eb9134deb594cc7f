package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/image"
)

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func newSaveCmd(a *app) *cobra.Command {
	var output, format string
	var cf compressionFlags
	c := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := archive.ParseFormat(format)
			if err != nil {
				return err
			}
			conv, err := cf.conversion()
			if err != nil {
				return err
			}
			if conv != nil && f != archive.OCIArchive {
				// docker load (20.10) reads no zstd layer; a docker-archive
				// holds uncompressed tars, as docker save writes them.
				return errors.New("--compression-format needs --format oci-archive (a docker-archive holds uncompressed layers, as docker save writes them)")
			}
			if output == "" && isTerminal(a.stdout) {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			names, err := st.Names()
			if err != nil {
				return err
			}
			var imgs []archive.SaveImage
			pos := map[string]int{}
			for _, arg := range args {
				im, err := st.Resolve(arg)
				if err != nil {
					return err
				}
				i, ok := pos[im.ID.String()]
				if !ok {
					src, err := st.ImageSource(im, arg)
					if err != nil {
						return err
					}
					defer src.Close()
					if conv != nil {
						if src, err = st.Recompress(cmd.Context(), src, *conv); err != nil {
							return err
						}
					}
					i = len(imgs)
					pos[im.ID.String()] = i
					imgs = append(imgs, archive.SaveImage{Source: src})
				}
				// A name (not an ID) is saved with the image, as docker does.
				if r, err := image.ParseTagged(arg); err == nil {
					for _, n := range names[im.ID] {
						if n == r.String() && !hasRef(imgs[i].Names, r) {
							imgs[i].Names = append(imgs[i].Names, r)
						}
					}
				}
			}
			if output == "" || output == "-" {
				return archive.Save(cmd.Context(), a.stdout, imgs, f)
			}
			tmp, err := os.CreateTemp(filepath.Dir(output), ".strata-save-")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			err = archive.Save(cmd.Context(), tmp, imgs, f)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	c.Flags().StringVar(&format, "format", "docker-archive", "Archive format: docker-archive or oci-archive")
	cf.add(c.Flags(), "written (oci-archive)")
	return c
}

func newLoadCmd(a *app) *cobra.Command {
	var input string
	var quiet bool
	c := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive or STDIN (docker-archive or oci-archive, compressed or not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r io.Reader = a.stdin
			if input != "" && input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if isTerminal(a.stdin) {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			res, err := archive.Load(st, r)
			if err != nil {
				return err
			}
			if quiet {
				return nil
			}
			for _, im := range res.Images {
				if len(im.Names) == 0 {
					fmt.Fprintf(a.stdout, "Loaded image ID: %s\n", im.ID)
				}
				for _, n := range im.Names {
					fmt.Fprintf(a.stdout, "Loaded image: %s\n", n.Familiar())
				}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return c
}

func hasRef(rs []image.Reference, r image.Reference) bool {
	for _, x := range rs {
		if x.String() == r.String() {
			return true
		}
	}
	return false
}
