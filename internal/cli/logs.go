package cli

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
)

// timestampFormat is docker's for logs -t: nanoseconds always nine digits.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

func newLogsCmd(a *app) *cobra.Command {
	var f containerFlags
	var follow, timestamps bool
	var tail, since, until string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := a.now()
			o := container.LogOptions{Follow: follow, Tail: -1}
			var err error
			if o.Since, err = parseTimeFlag("since", since, now); err != nil {
				return err
			}
			if o.Until, err = parseTimeFlag("until", until, now); err != nil {
				return err
			}
			if tail != "all" {
				// docker reads a bad or negative --tail as all.
				if n, err := strconv.Atoi(tail); err == nil && n >= 0 {
					o.Tail = n
				}
			}
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			return m.Logs(ctx, r, o, func(e container.LogEntry) error {
				w := a.stdout
				if e.Stream == "stderr" {
					w = a.stderr
				}
				if timestamps {
					if _, err := io.WriteString(w, e.Time.Format(timestampFormat)+" "); err != nil {
						return err
					}
				}
				_, err := io.WriteString(w, e.Log)
				return err
			})
		},
	}
	f.add(c.Flags())
	c.Flags().BoolVarP(&follow, "follow", "f", false, "Follow log output")
	c.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	c.Flags().StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	c.Flags().StringVar(&since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	c.Flags().StringVar(&until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	return c
}

// parseTimeFlag reads a --since/--until/--filter until= value as docker
// does: a duration before now ("10m"), an RFC 3339 time or date (without
// a zone: the local one), or Unix seconds with an optional fraction. ""
// is the zero time.
func parseTimeFlag(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02"} {
		loc := time.Local
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	if secs, frac, ok := strings.Cut(v, "."); !strings.ContainsAny(v, "-+eE") {
		s, err := strconv.ParseInt(secs, 10, 64)
		var ns int64
		if err == nil && ok {
			frac = (frac + "000000000")[:9]
			ns, err = strconv.ParseInt(frac, 10, 64)
		}
		if err == nil && s < math.MaxInt64/int64(time.Second) {
			return time.Unix(s, ns), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid value for %q: failed to parse value as time or duration: %q", name, v)
}
