package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/errdefs"
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
--filter until=DURATION|TIMESTAMP keeps what is newer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			until, err := parseUntil(filters, a.now())
			if err != nil {
				return err
			}
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
			ids, _, err := m.Prune(until)
			if len(ids) > 0 {
				a.printPrunedContainers(ids)
			}
			if err != nil {
				return err
			}
			res, err := st.Prune(store.PruneOptions{All: all, Until: until})
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
	fs.StringArrayVar(&filters, "filter", nil, "Provide filter values (until=DURATION or TIMESTAMP)")
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

// parseUntil reads docker's until filter: a duration before now (24h,
// 90m) or a time (RFC 3339, 2006-01-02, or Unix seconds). Other filters
// are refused, not ignored.
func parseUntil(filters []string, now time.Time) (time.Time, error) {
	var until time.Time
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != "until" {
			return time.Time{}, errdefs.InvalidArgument(fmt.Errorf("invalid filter %q: only until=DURATION|TIMESTAMP is supported", f))
		}
		if d, err := time.ParseDuration(v); err == nil {
			until = now.Add(-d)
			continue
		}
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			until = time.Unix(sec, 0)
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if t, err = time.ParseInLocation("2006-01-02", v, time.Local); err != nil {
				return time.Time{}, errdefs.InvalidArgument(fmt.Errorf("invalid filter until=%q: not a duration (24h) or a time (RFC 3339, 2006-01-02, Unix seconds)", v))
			}
		}
		until = t
	}
	return until, nil
}
