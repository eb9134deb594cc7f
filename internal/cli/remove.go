package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

func newTagCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			dst, err := image.ParseTagged(args[1])
			if err != nil {
				return fmt.Errorf("Error parsing reference: %q is not a valid repository/tag: %w", args[1], err) //lint:ignore ST1005 docker's words
			}
			if ix, err := st.Index(args[0]); err == nil {
				return tagged(st, ix.Digest, dst, st.Tag(ix.Digest, dst)) // the name stands for every platform
			}
			im, err := st.Resolve(args[0])
			if err != nil {
				return err
			}
			return tagged(st, im.ID, dst, st.Tag(im.ID, dst))
		},
	}
}

func newRmiCmd(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			var errs []string
			running := container.RunsWith(func() (*container.Manager, error) { return container.New(st, "", "") })
			for _, ref := range args {
				rm, err := st.RemoveWith(ref, store.RemoveOptions{Force: force, Running: running})
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				a.printRemoval(rm, "Untagged: ", "Deleted: ")
			}
			// Free what is no longer referenced now, unless a writer
			// runs: then the next collection does it.
			if _, err := st.GC(false); err != nil {
				errs = append(errs, err.Error())
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "; "))
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	return c
}

func newImagePruneCmd(a *app) *cobra.Command {
	var all, force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := parsePruneFilters(filters, a.now())
			if err != nil {
				return err
			}
			if !force {
				warn := "WARNING! This will remove all dangling images."
				if all {
					warn = "WARNING! This will remove all images without at least one container associated to them."
				}
				if !a.confirm(warn) {
					return nil
				}
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			res, err := st.Prune(store.PruneOptions{All: all, Until: pf.until, Keep: pf.imageKeep(st)})
			if err != nil {
				return err
			}
			a.printPrunedImages(res.Removals)
			a.println("Total reclaimed space: " + humanSize(res.Reclaimed))
			return nil
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	stringArrayVarP(c.Flags(), &filters, "filter", "", "Provide filter values (until=DURATION|TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE])")
	return c
}

// printPrunedImages lists what a prune removed, as docker does (nothing
// when it removed nothing).
func (a *app) printPrunedImages(rms []store.Removal) {
	if len(rms) == 0 {
		return
	}
	a.println("Deleted Images:")
	for _, rm := range rms {
		a.printRemoval(rm, "untagged: ", "deleted: ")
	}
	a.println()
}

// printPrunedContainers lists the containers a prune removed.
func (a *app) printPrunedContainers(ids []string) {
	a.println("Deleted Containers:")
	for _, id := range ids {
		a.println(id)
	}
	a.println()
}

func (a *app) printRemoval(rm store.Removal, untagged, deleted string) {
	a.removalEvents(rm)
	for _, u := range rm.Untagged {
		a.println(untagged + u)
	}
	for _, d := range rm.Deleted {
		a.println(deleted + d.String())
	}
}

// confirm asks docker's question on stdout and reads the answer.
func (a *app) confirm(warning string) bool {
	fmt.Fprintf(a.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes"
}
