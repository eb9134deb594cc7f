package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/rewrite"
	"github.com/strata-dev/strata/internal/source"
)

// newImageSquashCmd is `strata image squash`: a range of an image's layers
// become one layer of a new image.
func newImageSquashCmd(a *app) *cobra.Command {
	var (
		from    int
		since   string
		tags    []string
		message string
		reg     registryFlags
	)
	c := &cobra.Command{
		Use:   "squash [OPTIONS] IMAGE",
		Short: "Merge an image's layers into one",
		Long: `Write a new image whose layers from --from N (or all above BASE's layers with
--since BASE; default: all) are one layer holding their merged content: a file
deleted by a later layer is in no blob, an overwritten file is kept in its last
version. The layers below are shared, and the history keeps every entry.
Without -t the new image has no name (as docker-squash); its ID is printed.
IMAGE may be any source analyze reads (a store name, docker-archive:FILE,
oci-archive:FILE, oci:DIR, docker://NAME).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := context.Background()
			opts := a.sourceOptions(reg)
			src, err := source.Open(ctx, args[0], opts)
			if err != nil {
				return err
			}
			defer src.Close()
			o := rewrite.SquashOptions{From: from, Message: message}
			if since != "" {
				if cmd.Flags().Changed("from") {
					return errdefs.InvalidArgument(fmt.Errorf("--from and --since cannot be used together"))
				}
				if o.From, err = layersOf(ctx, since, opts, src); err != nil {
					return err
				}
			}
			if o.Names, err = parseTags(tags); err != nil {
				return err
			}
			if o.Created, err = sourceDateEpoch(); err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			im, err := rewrite.Squash(ctx, st, src, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, im.ID)
			return nil
		},
	}
	fs := c.Flags()
	fs.IntVar(&from, "from", 0, "Index of the first layer to merge (0: all layers)")
	fs.StringVar(&since, "since", "", "Merge the layers above this base image's layers")
	stringArrayVarP(fs, &tags, "tag", "t", "Name the new image (name:tag; may be repeated)")
	fs.StringVarP(&message, "message", "m", "", "Comment of the squash's history entry")
	reg.addTLSVerify(fs)
	return c
}

// layersOf returns how many layers base has, after checking that they are
// the bottom layers of src.
func layersOf(ctx context.Context, base string, opts source.Options, src image.Source) (int, error) {
	b, err := source.Open(ctx, base, opts)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	n, err := rewrite.BaseLayers(src, b)
	if err != nil {
		return 0, errdefs.InvalidArgument(err)
	}
	return n, nil
}

// parseTags parses -t names.
func parseTags(tags []string) ([]image.Reference, error) {
	var out []image.Reference
	for _, t := range tags {
		r, err := image.ParseTagged(t)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// sourceDateEpoch is the creation time $SOURCE_DATE_EPOCH asks for (nil:
// unset), for reproducible images.
func sourceDateEpoch() (*time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", v))
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}
