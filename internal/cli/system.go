package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/store"
)

func newSystemCmd(a *app) *cobra.Command {
	sys := &cobra.Command{Use: "system", Short: "Manage strata's store"}
	var verbose bool
	df := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			return a.diskUsage(st, verbose)
		},
	}
	df.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	sys.AddCommand(df, newSystemPruneCmd(a), newEventsCmd(a))
	return sys
}

func newFsckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "fsck",
		Short: "Check every blob against its digest and every reference in the metadata",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			r, err := st.Fsck()
			if err != nil {
				return err
			}
			for _, p := range r.Problems {
				fmt.Fprintln(a.stderr, "damaged: "+p)
			}
			a.println(fmt.Sprintf("checked %d blobs, %d images, %d names", r.Blobs, r.Images, r.Names))
			if r.Unreferenced > 0 {
				a.println(fmt.Sprintf("%d unreferenced blobs (%s) will be removed by the next rmi or image prune", r.Unreferenced, humanSize(r.UnreferencedBytes)))
			}
			if len(r.Problems) > 0 {
				return errdefs.Exit(exitFailure, fmt.Errorf("store %s is damaged: %d problems", st.Root, len(r.Problems)))
			}
			a.println("ok")
			return nil
		},
	}
}

func (a *app) diskUsage(st *store.Store, verbose bool) error {
	du, err := st.DiskUsage()
	if err != nil {
		return err
	}
	cu, err := builder.DiskUsage(st)
	if err != nil {
		return err
	}
	cs := &containerUsage{}
	if du.Containers > 0 { // opening the containers makes their directories
		if cs, err = a.containerUsage(); err != nil {
			return err
		}
	}
	pct := ""
	if du.ImagesSize > 0 {
		pct = fmt.Sprintf(" (%d%%)", du.Reclaimable*100/du.ImagesSize)
	}
	tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s%s\n", du.Images, du.ActiveImages, humanSize(du.ImagesSize), humanSize(du.Reclaimable), pct)
	fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\t%s\n", len(cs.rows), cs.active, humanSize(cs.size), reclaimable(cs.reclaimable, cs.size))
	// Build cache: the layer blobs cache records keep (each once), and
	// what of it no image uses (what `builder prune` reclaims).
	fmt.Fprintf(tw, "Build Cache\t%d\t0\t%s\t%s\n", du.CacheRecords, humanSize(cu.Size), humanSize(cu.Reclaimable))
	tw.Flush()
	// Layers a build kept as their snapshots have no blob file: their
	// bytes are in the snapshots, and said apart.
	line := fmt.Sprintf("\nBlobs on disk: %s (layers as stored, compressed or not; each shared layer once)", humanSize(du.BlobBytes))
	if du.KeptLayers > 0 {
		line += fmt.Sprintf("\nLayers kept as snapshots (RUN steps; no blob until pushed or saved): %d, %s", du.KeptLayers, humanSize(du.KeptLayerBytes))
	}
	a.println(line)
	if !verbose {
		return nil
	}
	if err := a.imagesSpaceUsage(st, du); err != nil {
		return err
	}
	if err := a.containersSpaceUsage(cs); err != nil {
		return err
	}
	return a.storeSpaceUsage(st)
}

// containerUsage is what system df says of containers, as docker does:
// each one's own layer, what the stopped ones hold being reclaimable.
type containerUsage struct {
	rows              []psRow
	sizes             []int64
	active            int
	size, reclaimable int64
}

func (a *app) containerUsage() (*containerUsage, error) {
	m, err := a.containers(&containerFlags{})
	if err != nil {
		return nil, err
	}
	rs, err := m.List()
	if err != nil {
		return nil, err
	}
	u := &containerUsage{}
	now := a.now()
	for _, r := range rs {
		row := containerRow(m, r, now, false)
		n := m.LayerSize(r)
		u.rows, u.sizes = append(u.rows, row), append(u.sizes, n)
		u.size += n
		if row.State == container.Running {
			u.active++
		} else {
			u.reclaimable += n
		}
	}
	return u, nil
}

// reclaimable is docker's RECLAIMABLE: the bytes, and their share of size
// when there is any.
func reclaimable(n, size int64) string {
	if size == 0 {
		return humanSize(n)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(n), n*100/size)
}

// containersSpaceUsage is df -v's table of containers, docker's columns
// (strata has no volumes: LOCAL VOLUMES is 0).
func (a *app) containersSpaceUsage(u *containerUsage) error {
	a.println("\nContainers space usage:")
	a.println()
	tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for i, r := range u.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t0\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, humanSize(u.sizes[i]), r.RunningFor, r.Status, r.Names)
	}
	return tw.Flush()
}

// storeSpaceUsage is df -v's account of every byte under the store root,
// by what strata keeps there; its total is what du -sb says of the root.
func (a *app) storeSpaceUsage(st *store.Store) error {
	u, err := st.SpaceUsage()
	if err != nil {
		return err
	}
	a.println("\nStore space usage (every byte under the root, as du -sb counts it):")
	a.println()
	tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "LOCATION\tSIZE")
	for _, l := range u.ByLocation {
		fmt.Fprintf(tw, "%s\t%s\n", l.Location, humanSize(l.Bytes))
	}
	fmt.Fprintf(tw, "total\t%s (%d bytes)\n", humanSize(u.Total), u.Total)
	return tw.Flush()
}

// imagesSpaceUsage is df -v's table of images.
func (a *app) imagesSpaceUsage(st *store.Store, du *store.DiskUsage) error {
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	names, err := st.Names()
	if err != nil {
		return err
	}
	a.println("\nImages space usage:")
	a.println()
	tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, row := range imageRows(imgs, names, nil, true, false, "", a.now()) {
		r := row.(imageRow)
		var u store.ImageUsage
		for _, im := range imgs {
			if shortID(im.ID.String()) == r.ID {
				u = du.PerImage[im.ID]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Repository, r.Tag, r.ID, r.CreatedSince, humanSize(u.Size), humanSize(u.Shared), humanSize(u.Unique), u.Containers)
	}
	return tw.Flush()
}
