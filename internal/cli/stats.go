package cli

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
)

// statsInterval is the time between the two samples CPU % compares (and
// between screens when streaming), docker's second.
var statsInterval = time.Second

// statsRow is a line of stats, with docker's --format field names.
type statsRow struct {
	// Alphabetical, as docker's {{json .}} has them.
	BlockIO, CPUPerc, Container, ID, MemPerc, MemUsage, Name, NetIO, PIDs string
}

var statsHeaders = map[string]string{
	"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

const statsColumns = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// newStatsRow is docker's rendering of two samples of a container.
func newStatsRow(r *container.Record, as string, prev, cur container.Stats, noTrunc bool) statsRow {
	id := r.ID
	if !noTrunc {
		id = id[:12]
	}
	if as == "" {
		as = id
	}
	pair := func(x, y uint64) string {
		return units.HumanSizeWithPrecision(float64(x), 3) + " / " + units.HumanSizeWithPrecision(float64(y), 3)
	}
	return statsRow{
		ID: id, Container: as, Name: r.Name,
		CPUPerc:  fmt.Sprintf("%.2f%%", container.CPUPercent(prev, cur)),
		MemUsage: units.BytesSize(float64(cur.MemUsage)) + " / " + units.BytesSize(float64(cur.MemLimit)),
		MemPerc:  fmt.Sprintf("%.2f%%", cur.MemPercent()),
		NetIO:    pair(cur.NetRx, cur.NetTx), BlockIO: pair(cur.BlockRead, cur.BlockWrite),
		PIDs: strconv.FormatUint(cur.Pids, 10),
	}
}

func newStatsCmd(a *app) *cobra.Command {
	var f containerFlags
	var all, noStream, noTrunc bool
	var format string
	c := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			targets, err := statsTargets(m, args, all)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			t := table{format: format, columns: statsColumns, headers: statsHeaders}
			prev := sampleAll(m, targets)
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(statsInterval):
				}
				cur := sampleAll(m, targets)
				var rows []any
				for i, tg := range targets {
					rows = append(rows, newStatsRow(tg.r, tg.as, prev[i], cur[i], noTrunc))
				}
				var out bytes.Buffer
				if !noStream {
					out.WriteString("\033[2J\033[H") // docker clears the screen for each
				}
				if err := t.print(&out, rows); err != nil {
					return err
				}
				if _, err := io.Copy(a.stdout, &out); err != nil || noStream {
					return err
				}
				prev = cur
			}
		},
	}
	f.add(c.Flags())
	c.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	c.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	c.Flags().StringVar(&format, "format", "", "Pretty-print images using a Go template")
	return c
}

// statsTarget is a container stats shows, and what to call it in the
// Container column (the name or ID given, else the short ID).
type statsTarget struct {
	r  *container.Record
	as string
}

// statsTargets are the containers named, else the running ones (every
// one with all), newest first as docker lists them.
func statsTargets(m *container.Manager, args []string, all bool) ([]statsTarget, error) {
	var out []statsTarget
	if len(args) > 0 {
		for _, ref := range args {
			r, err := m.Get(ref)
			if err != nil {
				return nil, err
			}
			out = append(out, statsTarget{r, ref})
		}
		return out, nil
	}
	rs, err := m.List()
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if all || m.State(r.ID).Status == container.Running {
			out = append(out, statsTarget{r: r})
		}
	}
	return out, nil
}

func sampleAll(m *container.Manager, targets []statsTarget) []container.Stats {
	out := make([]container.Stats, len(targets))
	for i, tg := range targets {
		out[i], _ = m.Stats(tg.r) // a container gone meanwhile shows zeros
	}
	return out
}
