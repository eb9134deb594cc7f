package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/store"
)

// newSystemPruneCmd is `strata system prune`: stopped containers, unused
// images, build cache and what killed processes left, in one command.
func newSystemPruneCmd(a *app) *cobra.Command {
	var (
		all, force, volumes bool
		filters             []string
		f                   containerFlags
	)
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Long: `Remove stopped containers, dangling images (with -a: every image no container
uses), unused build cache (with -a: all of it, with the ADD <url> downloads,
RUN --mount=type=cache directories and context checksums), and what killed
processes left: container directories and runtime state without a container,
unused snapshots, partial downloads, build scratch space. The space reclaimed
is measured on disk, before and after. strata has no volumes (only bind
mounts), so --volumes is accepted and has nothing to remove.
--filter until=DURATION|TIMESTAMP keeps what is newer; label=KEY[=VALUE] removes
only what has the label, label!=KEY[=VALUE] keeps what has it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := parsePruneFilters(filters, a.now())
			if err != nil {
				return err
			}
			until := pf.until
			if !force && !a.confirm(pruneWarning(all)) {
				return nil
			}
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			st := m.St
			before, err := st.SpaceUsage()
			if err != nil {
				return err
			}
			ids, _, err := m.Prune(until, pf.containerKeep())
			if len(ids) > 0 {
				a.printPrunedContainers(ids)
			}
			if err != nil {
				return err
			}
			res, err := st.Prune(store.PruneOptions{All: all, Until: until, Keep: pf.imageKeep(st)})
			if err != nil {
				return err
			}
			a.printPrunedImages(res.Removals)
			cache, err := builder.Prune(st, builder.PruneOptions{All: all, Until: until})
			if err != nil {
				return err
			}
			if cache.Records > 0 {
				a.println(fmt.Sprintf("Deleted build cache objects: %d", cache.Records))
				a.println()
			}
			orphans, err := m.RemoveOrphans()
			if err != nil {
				return err
			}
			if len(orphans) > 0 {
				a.println(fmt.Sprintf("Removed what killed processes left: %d container directories or runtime states", len(orphans)))
				a.println()
			}
			after, err := st.SpaceUsage()
			if err != nil {
				return err
			}
			a.println("Total reclaimed space: " + humanSize(max(before.Total-after.Total, 0)))
			return nil
		},
	}
	fs := c.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images and all build cache, not just dangling ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&volumes, "volumes", false, "Prune volumes (strata has none: only bind mounts)")
	stringArrayVarP(fs, &filters, "filter", "", "Provide filter values (until=DURATION|TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE])")
	f.add(fs)
	return c
}

func pruneWarning(all bool) string {
	images, cache := "all dangling images", "unused build cache"
	if all {
		images, cache = "all images without at least one container associated to them", "all build cache"
	}
	return "WARNING! This will remove:\n  - all stopped containers\n  - " + images + "\n  - " + cache
}
