package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/imagediff"
	"github.com/strata-dev/strata/internal/source"
	"github.com/strata-dev/strata/internal/vuln"
)

// newImageDiffCmd is `strata image diff A B`: what differs between two
// images, as layers, files and config.
func newImageDiffCmd(a *app) *cobra.Command {
	var (
		format, db string
		reg        registryFlags
	)
	c := &cobra.Command{
		Use:   "diff [OPTIONS] IMAGE_A IMAGE_B",
		Short: "Show what differs between two images: layers, files and config",
		Long: `Compare two images. Layers are matched by content (diffID), so the same
layer in another compression is shared. Files are compared by type, content,
mode, owner, link target, xattrs and device numbers, not by modification
time: A is a path that only IMAGE_B has, D one that only IMAGE_A has, C one
that differs. The config fields compared are the runtime config and the
platform. Either image may be any source analyze reads (a store name,
docker-archive:FILE, oci-archive:FILE, oci:DIR, docker://NAME).

The packages of the final filesystems (as strata sbom lists them) that differ
are listed too, and, with --db or when the default advisory database exists,
the findings (as strata scan reports them) fixed or added in IMAGE_B.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return errdefs.InvalidArgument(fmt.Errorf("--format %q: must be text or json", format))
			}
			ctx := context.Background()
			opts := a.sourceOptions(reg)
			srcA, err := source.Open(ctx, args[0], opts)
			if err != nil {
				return err
			}
			defer srcA.Close()
			srcB, err := source.Open(ctx, args[1], opts)
			if err != nil {
				return err
			}
			defer srcB.Close()
			res, err := imagediff.Compare(ctx, srcA, srcB)
			if err != nil {
				return err
			}
			warnings := res.Warnings()
			if dir := vuln.DirOrDefault(db); dir != "" {
				w, err := res.MatchFindings(dir)
				if err != nil {
					return err
				}
				warnings = append(warnings, w...)
			}
			for _, w := range warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			if format == "json" {
				return imagediff.WriteJSON(a.stdout, res)
			}
			return imagediff.WriteText(a.stdout, res)
		},
	}
	c.Flags().StringVar(&format, "format", "text", "Output format: text or json")
	c.Flags().StringVar(&db, "db", "", "directory of OSV advisories to match both images against (default $XDG_CACHE_HOME/strata/osv, when it exists)")
	reg.addTLSVerify(c.Flags())
	return c
}
