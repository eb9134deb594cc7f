package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// imageRow is one line of `images`, with docker's field names so that
// --format templates written for docker work.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
	Platform     string `json:",omitempty"` // a multi-platform image's entry (images -a)
}

var imageHeaders = map[string]string{
	"Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE", "Tag": "TAG",
	"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE", "Platform": "PLATFORM",
}

func newImagesCmd(a *app) *cobra.Command {
	var all, quiet, digests, noTrunc, tree bool
	var format string
	var filters []string
	c := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fa, err := parseFilters(filters, imageFilters...)
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			imgs, err := st.Images()
			if err != nil {
				return err
			}
			names, err := st.Names()
			if err != nil {
				return err
			}
			if imgs, err = filterImages(st, fa, imgs, names); err != nil {
				return err
			}
			filter := ""
			if len(args) == 1 {
				filter = args[0]
			}
			ixs, err := st.Indexes()
			if err != nil {
				return err
			}
			held, err := st.IndexedImages()
			if err != nil {
				return err
			}
			if tree {
				return printImageTree(a, indexRows(ixs, imgs, names, noTrunc, filter, a.now(), true), imageRows(imgs, names, held, all, noTrunc, filter, a.now()))
			}
			if len(fa) > 0 && !(len(fa) == 1 && len(fa["reference"]) > 0) {
				ixs = nil // multi-platform images are listed by name alone
			}
			rows := append(indexRows(ixs, imgs, names, noTrunc, filter, a.now(), all), imageRows(imgs, names, held, all, noTrunc, filter, a.now())...)
			rows = filterReference(fa, rows)
			if quiet {
				for _, r := range rows {
					a.println(r.(imageRow).ID)
				}
				return nil
			}
			cols := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				cols = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			if all && len(ixs) > 0 {
				cols += "\t{{.Platform}}"
			}
			return table{format: format, columns: cols, headers: imageHeaders}.print(a.stdout, rows)
		},
	}
	f := c.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images), and one line per platform of a multi-platform image")
	f.BoolVar(&tree, "tree", false, "List multi-platform images as a tree of their platforms")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&digests, "digests", false, "Show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&format, "format", "", "Format output using a Go template, 'table TEMPLATE' or 'json'")
	stringArrayVarP(f, &filters, "filter", "f", "Filter output based on conditions provided (dangling, reference, label, before, since)")
	return c
}

// imageRows are the rows of the images that are not entries of a
// multi-platform image (held), unless they have names of their own.
func imageRows(imgs []*metadata.Image, names map[digest.Digest][]string, held map[digest.Digest]bool, all, noTrunc bool, filter string, now time.Time) []any {
	parents := map[digest.Digest]bool{}
	for _, im := range imgs {
		if im.Parent != "" {
			parents[im.Parent] = true
		}
	}
	var rows []any
	for _, im := range imgs {
		mine := names[im.ID]
		if held[im.ID] && len(mine) == 0 {
			continue // listed under its multi-platform image
		}
		if !all && len(mine) == 0 && len(im.RepoDigests) == 0 && parents[im.ID] {
			continue // an intermediate image of a build
		}
		base := imageRow{
			ID:           shortID(im.ID.String()),
			CreatedAt:    im.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			CreatedSince: since(im.Created, now),
			Size:         humanSize(im.Size()),
			VirtualSize:  humanSize(im.Size()),
			SharedSize:   "N/A",
			UniqueSize:   "N/A",
			Containers:   "N/A",
			Digest:       "<none>",
		}
		if noTrunc {
			base.ID = im.ID.String()
		}
		digestOf := func(repo string) string {
			for _, rd := range im.RepoDigests {
				if r, err := image.ParseReference(rd); err == nil && r.Repository() == repo {
					return r.Digest()
				}
			}
			return "<none>"
		}
		var mine2 []imageRow
		seenRepo := map[string]bool{}
		for _, n := range mine {
			r, err := image.ParseReference(n)
			if err != nil {
				continue
			}
			row := base
			row.Repository, row.Tag, row.Digest = r.FamiliarRepository(), r.Tag(), digestOf(r.Repository())
			seenRepo[r.Repository()] = true
			mine2 = append(mine2, row)
		}
		for _, rd := range im.RepoDigests {
			r, err := image.ParseReference(rd)
			if err != nil || seenRepo[r.Repository()] {
				continue
			}
			seenRepo[r.Repository()] = true
			row := base
			row.Repository, row.Tag, row.Digest = r.FamiliarRepository(), "<none>", r.Digest()
			mine2 = append(mine2, row)
		}
		if len(mine2) == 0 {
			row := base
			row.Repository, row.Tag = "<none>", "<none>"
			mine2 = append(mine2, row)
		}
		for _, row := range mine2 {
			if filter != "" && !matchRepo(filter, row.Repository, row.Tag) {
				continue
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// matchRepo is docker's `images REPOSITORY[:TAG]` argument.
func matchRepo(filter, repo, tag string) bool {
	fr, ft, hasTag := strings.Cut(filter, ":")
	if strings.Contains(ft, "/") { // a registry port, not a tag
		fr, hasTag = filter, false
	}
	if fr != repo && "docker.io/"+repo != fr && "docker.io/library/"+repo != fr {
		return false
	}
	return !hasTag || ft == tag
}

// indexRows are the rows of multi-platform images: one per name (an
// unnamed one as <none>), its ID the index digest, its size that of every
// layer of its platforms once, created when its newest platform was; with
// entries, a row per platform follows each (its own ID, size and created).
func indexRows(ixs []*metadata.Index, imgs []*metadata.Image, names map[digest.Digest][]string, noTrunc bool, filter string, now time.Time, entries bool) []any {
	byID := map[digest.Digest]*metadata.Image{}
	for _, im := range imgs {
		byID[im.ID] = im
	}
	id := func(d digest.Digest) string {
		if noTrunc {
			return d.String()
		}
		return shortID(d.String())
	}
	var rows []any
	for _, ix := range ixs {
		var created time.Time
		var size int64
		seen := map[digest.Digest]bool{}
		for _, e := range ix.Entries {
			im := byID[e.Image]
			if im == nil {
				continue
			}
			if im.Created.After(created) {
				created = im.Created
			}
			for _, l := range im.Layers {
				if !seen[l.DiffID] {
					seen[l.DiffID] = true
					size += l.Unpacked()
				}
			}
		}
		row := imageRow{
			ID: id(ix.Digest), CreatedAt: created.Local().Format("2006-01-02 15:04:05 -0700 MST"), CreatedSince: since(created, now),
			Size: humanSize(size), VirtualSize: humanSize(size), SharedSize: "N/A", UniqueSize: "N/A", Containers: "N/A",
			Repository: "<none>", Tag: "<none>", Digest: ix.Digest.String(),
		}
		mine := names[ix.Digest]
		if len(mine) == 0 {
			mine = []string{""}
		}
		for _, n := range mine {
			r := row
			if ref, err := image.ParseReference(n); err == nil {
				r.Repository, r.Tag = ref.FamiliarRepository(), ref.Tag()
			}
			if filter != "" && !matchRepo(filter, r.Repository, r.Tag) {
				continue
			}
			rows = append(rows, r)
			if !entries {
				continue
			}
			for _, e := range ix.Entries {
				im := byID[e.Image]
				if im == nil {
					continue
				}
				er := r
				er.ID, er.Digest, er.Platform = id(im.ID), e.Manifest.String(), store.EntryPlatform(e).String()
				er.CreatedAt, er.CreatedSince = im.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), since(im.Created, now)
				er.Size, er.VirtualSize = humanSize(im.Size()), humanSize(im.Size())
				rows = append(rows, er)
			}
		}
	}
	return rows
}

// printImageTree is `images --tree`: each image on a line, a
// multi-platform image's platforms under it.
func printImageTree(a *app, indexRows, imageRows []any) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tID\tCREATED\tSIZE")
	for i, row := range indexRows {
		r := row.(imageRow)
		if r.Platform == "" {
			fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
			continue
		}
		branch := "├─ "
		if i+1 == len(indexRows) || indexRows[i+1].(imageRow).Platform == "" {
			branch = "└─ "
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", branch, r.Platform, r.ID, r.CreatedSince, r.Size)
	}
	for _, row := range imageRows {
		r := row.(imageRow)
		fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
	}
	return tw.Flush()
}
