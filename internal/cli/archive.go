package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/atomicfile"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
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
	var output, format, platform string
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
			want, err := optionalPlatform(platform)
			if err != nil {
				return err
			}
			var imgs []archive.SaveImage
			pos := map[string]int{}
			for _, arg := range args {
				if ix, err := st.Index(arg); err == nil && f == archive.OCIArchive && want == nil {
					si, err := saveIndex(cmd.Context(), st, ix, arg, conv)
					if err != nil {
						return err
					}
					for _, src := range si.Index.Entries {
						defer src.Close()
					}
					if r, err := image.ParseTagged(arg); err == nil && slices.Contains(names[ix.Digest], r.String()) {
						si.Names = []image.Reference{r}
					}
					imgs = append(imgs, si)
					continue
				}
				im, err := resolveFor(st, arg, want)
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
				// A name (not an ID) is saved with the image, as docker does;
				// a multi-platform image's name with the platform saved.
				mine := names[im.ID]
				if ix, err := st.Index(arg); err == nil {
					mine = names[ix.Digest]
				}
				if r, err := image.ParseTagged(arg); err == nil {
					for _, n := range mine {
						if n == r.String() && !hasRef(imgs[i].Names, r) {
							imgs[i].Names = append(imgs[i].Names, r)
						}
					}
				}
			}
			if output == "" || output == "-" {
				return archive.Save(cmd.Context(), a.stdout, imgs, f)
			}
			return atomicfile.Write(output, func(w io.Writer) error {
				return archive.Save(cmd.Context(), w, imgs, f)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	c.Flags().StringVar(&format, "format", "docker-archive", "Archive format: docker-archive or oci-archive")
	c.Flags().StringVar(&platform, "platform", "", "Save this platform's image of a multi-platform image (default: all of them in an oci-archive, this machine's in a docker-archive)")
	cf.add(c.Flags(), "written (oci-archive)")
	return c
}

// saveIndex is a multi-platform image to save whole: each platform's
// image (converted when conv is set) and the index.
func saveIndex(ctx context.Context, st *store.Store, ix *metadata.Index, name string, conv *store.Conversion) (archive.SaveImage, error) {
	raw, err := st.ReadBlob(ix.Digest, image.MaxManifestSize)
	if err != nil {
		return archive.SaveImage{}, err
	}
	si := archive.SaveImage{Index: &archive.SaveIndex{Raw: raw, Entries: map[digest.Digest]image.Source{}}}
	for _, e := range ix.Entries {
		src, err := entrySource(ctx, st, e.Image, name, conv)
		if err != nil {
			for _, src := range si.Index.Entries {
				src.Close()
			}
			return archive.SaveImage{}, err
		}
		si.Index.Entries[e.Manifest] = src
	}
	return si, nil
}

// entrySource opens the stored image id, converted when conv is set.
func entrySource(ctx context.Context, st *store.Store, id digest.Digest, name string, conv *store.Conversion) (image.Source, error) {
	im, err := st.Image(id)
	if err != nil {
		return nil, err
	}
	src, err := st.ImageSource(im, name)
	if err != nil || conv == nil {
		return src, err
	}
	converted, err := st.Recompress(ctx, src, *conv)
	if err != nil {
		src.Close()
	}
	return converted, err
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
			// -q hides progress only: docker's load -q still names what it
			// loaded (strata's load shows no progress).
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
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load progress (the images loaded are still named, as docker does)")
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
