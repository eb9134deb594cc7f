package cli

import (
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
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
}

var imageHeaders = map[string]string{
	"Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE", "Tag": "TAG",
	"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

func newImagesCmd(a *app) *cobra.Command {
	var all, quiet, digests, noTrunc bool
	var format string
	c := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			filter := ""
			if len(args) == 1 {
				filter = args[0]
			}
			rows := imageRows(imgs, names, all, noTrunc, filter, a.now())
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
			return table{format: format, columns: cols, headers: imageHeaders}.print(a.stdout, rows)
		},
	}
	f := c.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&digests, "digests", false, "Show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&format, "format", "", "Format output using a Go template, 'table TEMPLATE' or 'json'")
	return c
}

func imageRows(imgs []*metadata.Image, names map[digest.Digest][]string, all, noTrunc bool, filter string, now time.Time) []any {
	parents := map[digest.Digest]bool{}
	for _, im := range imgs {
		if im.Parent != "" {
			parents[im.Parent] = true
		}
	}
	var rows []any
	for _, im := range imgs {
		mine := names[im.ID]
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
