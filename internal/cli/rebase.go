package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/rewrite"
	"github.com/strata-dev/strata/internal/source"
)

// newImageRebaseCmd is `strata image rebase`: an image's upper layers put
// on a new base, as crane rebase does.
func newImageRebaseCmd(a *app) *cobra.Command {
	var (
		oldBase, newBase string
		tags             []string
		strict           bool
		reg              registryFlags
	)
	c := &cobra.Command{
		Use:   "rebase --old-base OLD --new-base NEW [OPTIONS] IMAGE",
		Short: "Move an image's own layers onto a new base image",
		Long: `Write a new image made of NEW's layers and the layers IMAGE has above OLD's.
IMAGE's bottom layers must be exactly OLD's. No layer is rewritten or copied:
the upper layers are the same blobs, so pushing the result uploads none of
them again. The config is IMAGE's, with what IMAGE inherited unchanged from
OLD (an Env variable, a label, a port, CMD...) taken from NEW. The history
records the rebase, and the manifest names the new base in the
org.opencontainers.image.base.name and .digest annotations.

A layer made by a RUN step ran on OLD and may be wrong on NEW (a package
database, a binary linked against OLD's libraries): each is listed as a
warning, and --strict refuses the rebase instead.
Without -t the new image has no name; its ID is printed. Any image may be a
store name or another source (docker-archive:FILE, oci:DIR, docker://NAME).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if oldBase == "" || newBase == "" {
				return errdefs.InvalidArgument(fmt.Errorf("rebase needs --old-base and --new-base"))
			}
			ctx := context.Background()
			opts := a.sourceOptions(reg)
			src, err := source.Open(ctx, args[0], opts)
			if err != nil {
				return err
			}
			defer src.Close()
			ob, err := source.Open(ctx, oldBase, opts)
			if err != nil {
				return err
			}
			defer ob.Close()
			nb, err := source.Open(ctx, newBase, opts)
			if err != nil {
				return err
			}
			defer nb.Close()
			o := rewrite.RebaseOptions{Strict: strict}
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
			im, based, err := rewrite.Rebase(ctx, st, src, ob, nb, o)
			if err != nil {
				return err
			}
			for _, b := range based {
				fmt.Fprintf(a.stderr, "WARNING: layer %d ran on the old base and may differ on the new one: %s\n", b.Index, b.CreatedBy)
			}
			fmt.Fprintln(a.stdout, im.ID)
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&oldBase, "old-base", "", "The base image IMAGE was built on")
	fs.StringVar(&newBase, "new-base", "", "The base image to put IMAGE's own layers on")
	stringArrayVarP(fs, &tags, "tag", "t", "Name the new image (name:tag; may be repeated)")
	fs.BoolVar(&strict, "strict", false, "Refuse when a layer above the base was made by RUN on the old base")
	reg.addTLSVerify(fs)
	return c
}
