package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// historyRow is one line of `history`, with docker's field names.
type historyRow struct {
	ID           string
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	Size         string
	Comment      string
}

var historyHeaders = map[string]string{
	"ID": "IMAGE", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

func newHistoryCmd(a *app) *cobra.Command {
	var noTrunc, human, quiet bool
	var format string
	c := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			im, err := st.Resolve(args[0])
			if err != nil {
				return err
			}
			rows, err := historyRows(st, im, noTrunc, human, a.now())
			if err != nil {
				return err
			}
			if quiet {
				for _, r := range rows {
					a.println(r.(historyRow).ID)
				}
				return nil
			}
			cols := "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			if !human {
				// docker history -H=false: "IMAGE  CREATED AT  CREATED BY ..."
				cols = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			}
			return table{format: format, columns: cols, headers: historyHeaders}.print(a.stdout, rows)
		},
	}
	f := c.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.StringVar(&format, "format", "", "Format output using a Go template, 'table TEMPLATE' or 'json'")
	return c
}

// historyRows lists an image's history newest first. The topmost entry of
// each image in the parent chain shows that image's ID, the others
// <missing>, as docker does; an empty_layer entry shows size 0.
func historyRows(st *store.Store, im *metadata.Image, noTrunc, human bool, now time.Time) ([]any, error) {
	cfg, _, err := st.Config(im)
	if err != nil {
		return nil, err
	}
	// Which history index (from the bottom) is the top of which image.
	tops := map[int]digest.Digest{len(cfg.History) - 1: im.ID}
	for p := im.Parent; p != ""; {
		pim, err := st.Image(p)
		if err != nil {
			break // the parent was removed: the rest stays <missing>
		}
		pcfg, _, err := st.Config(pim)
		if err != nil {
			break
		}
		tops[len(pcfg.History)-1] = pim.ID
		p = pim.Parent
	}
	var rows []any
	layer := len(im.Layers)
	for i := len(cfg.History) - 1; i >= 0; i-- {
		h := cfg.History[i]
		var size int64
		if !h.EmptyLayer {
			layer--
			if layer >= 0 {
				size = im.Layers[layer].Unpacked()
			}
		}
		row := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if id, ok := tops[i]; ok {
			row.ID = shortID(id.String())
			if noTrunc {
				row.ID = id.String()
			}
		}
		if h.Created != nil {
			row.CreatedAt = h.Created.Format(time.RFC3339)
			row.CreatedSince = since(*h.Created, now)
		}
		if !human {
			row.CreatedSince = row.CreatedAt
		}
		row.Size = humanSize(size)
		if !human {
			row.Size = strconv.FormatInt(size, 10)
		}
		row.CreatedBy = strings.ReplaceAll(row.CreatedBy, "\t", " ")
		if !noTrunc {
			row.CreatedBy = truncate(row.CreatedBy, 45)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
