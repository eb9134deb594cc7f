package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

func init() {
	register(func(a *app) *cobra.Command {
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
		sys.AddCommand(df)
		return sys
	})
	register(func(a *app) *cobra.Command {
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
	})
}

// usage is how each image's unpacked size splits into layers it shares with
// other images and layers only it has. Docker computes SHARED SIZE from
// parent chains and counts nothing twice only by accident; here a layer is
// shared exactly when another image has the same blob, so for every image
// SIZE = SHARED + UNIQUE, and the sum of UNIQUE plus each shared layer once
// is what the images take on disk unpacked.
type usage struct {
	size, shared, unique int64
}

func imageUsage(imgs []*metadata.Image) map[digest.Digest]usage {
	users := map[digest.Digest]int{}
	for _, im := range imgs {
		seen := map[digest.Digest]bool{}
		for _, l := range im.Layers {
			if !seen[l.Digest] {
				seen[l.Digest] = true
				users[l.Digest]++
			}
		}
	}
	out := map[digest.Digest]usage{}
	for _, im := range imgs {
		var u usage
		seen := map[digest.Digest]bool{}
		for _, l := range im.Layers {
			if seen[l.Digest] {
				continue
			}
			seen[l.Digest] = true
			u.size += l.UncompressedSize
			if users[l.Digest] > 1 {
				u.shared += l.UncompressedSize
			} else {
				u.unique += l.UncompressedSize
			}
		}
		out[im.ID] = u
	}
	return out
}

func (a *app) diskUsage(st *store.Store, verbose bool) error {
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	names, err := st.Names()
	if err != nil {
		return err
	}
	var blobs int64
	if err := st.Content.Walk(func(_ digest.Digest, size int64) error { blobs += size; return nil }); err != nil {
		return err
	}
	var containers, cache int
	usedBy := map[digest.Digest]int{} // image ID -> containers using it
	if err := st.Meta.View(func(tx *metadata.Tx) error {
		err := tx.ForEach(metadata.BucketContainers, func(_ string, raw []byte) error {
			containers++
			var r metadata.Roots
			if json.Unmarshal(raw, &r) == nil {
				for _, id := range r.Images {
					usedBy[id]++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ForEach(metadata.BucketCache, func(string, []byte) error { cache++; return nil })
	}); err != nil {
		return err
	}
	use := imageUsage(imgs)
	// As in docker, an image is active when a container uses it, and what
	// is reclaimable is what `image prune -a` would free: every layer no
	// active image has, each counted once.
	layerSize := map[digest.Digest]int64{}
	kept := map[digest.Digest]bool{}
	active := 0
	for _, im := range imgs {
		for _, l := range im.Layers {
			layerSize[l.Digest] = l.UncompressedSize
			if usedBy[im.ID] > 0 {
				kept[l.Digest] = true
			}
		}
		if usedBy[im.ID] > 0 {
			active++
		}
	}
	var unpacked, reclaimable int64
	for d, s := range layerSize {
		unpacked += s
		if !kept[d] {
			reclaimable += s
		}
	}
	pct := ""
	if unpacked > 0 {
		pct = fmt.Sprintf(" (%d%%)", reclaimable*100/unpacked)
	}
	tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s%s\n", len(imgs), active, humanSize(unpacked), humanSize(reclaimable), pct)
	fmt.Fprintf(tw, "Containers\t%d\t-\t-\t-\n", containers)
	// Build cache: the layer blobs cache records keep (each once), and
	// what of it no image uses (what `builder prune` reclaims).
	used := map[digest.Digest]bool{}
	for _, im := range imgs {
		for _, l := range im.Layers {
			used[l.Digest] = true
		}
	}
	_, cacheSize, cacheFree, err := cacheUsage(st.Meta, used)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "Build Cache\t%d\t0\t%s\t%s\n", cache, humanSize(cacheSize), humanSize(cacheFree))
	tw.Flush()
	// Layers a build kept as their snapshots have no blob file: their
	// bytes are in the snapshots, and said apart.
	sbs, err := st.SnapBlobs()
	if err != nil {
		return err
	}
	var keptBytes int64
	for _, sb := range sbs {
		keptBytes += sb.Size
	}
	line := fmt.Sprintf("\nBlobs on disk: %s (layers as stored, compressed or not; each shared layer once)", humanSize(blobs))
	if len(sbs) > 0 {
		line += fmt.Sprintf("\nLayers kept as snapshots (RUN steps; no blob until pushed or saved): %d, %s", len(sbs), humanSize(keptBytes))
	}
	a.println(line)
	if !verbose {
		return nil
	}
	a.println("\nImages space usage:")
	a.println()
	tw = tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	now := a.now()
	for _, row := range imageRows(imgs, names, true, false, "", now) {
		r := row.(imageRow)
		var u usage
		var n int
		for _, im := range imgs {
			if shortID(im.ID.String()) == r.ID {
				u, n = use[im.ID], usedBy[im.ID]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Repository, r.Tag, r.ID, r.CreatedSince, humanSize(u.size), humanSize(u.shared), humanSize(u.unique), n)
	}
	return tw.Flush()
}
