package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
)

// The container commands docker has beside run/start/stop: rename,
// restart, pause, unpause and top.

func newRenameCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			return m.Rename(r, args[1])
		},
	}
	f.add(c.Flags())
	return c
}

func newRestartCmd(a *app) *cobra.Command {
	var seconds int
	var sig string
	var f containerFlags
	c := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			self, err := selfExe()
			if err != nil {
				return err
			}
			return a.each(m, args, func(r *container.Record) error {
				if err := m.Restart(r, sig, time.Duration(seconds)*time.Second, self, a.monitorArgs(m, &f, r)); err != nil {
					return err
				}
				a.println(argFor(args, r))
				return nil
			})
		},
	}
	f.add(c.Flags())
	c.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container (default: its stop signal, else SIGTERM)")
	c.Flags().IntVarP(&seconds, "time", "t", 10, "Seconds to wait for stop before killing the container")
	c.Flags().IntVar(&seconds, "timeout", 10, "Seconds to wait for stop before killing the container (current docker's name for --time)")
	return c
}

func newPauseCmd(a *app) *cobra.Command {
	return perContainerCmd(a, "pause", "Pause all processes within one or more containers", func(m *container.Manager, r *container.Record) error {
		return m.Pause(r)
	})
}

func newUnpauseCmd(a *app) *cobra.Command {
	return perContainerCmd(a, "unpause", "Unpause all processes within one or more containers", func(m *container.Manager, r *container.Record) error {
		return m.Unpause(r)
	})
}

func newTopCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			procs, err := m.Top(r, strings.Join(args[1:], " "))
			if err != nil {
				return err
			}
			return printTop(a.stdout, procs)
		},
	}
	c.Flags().SetInterspersed(false) // what follows CONTAINER is ps's
	f.add(c.Flags())
	return c
}

// runningNote is what docker's STATUS adds to "Up 5 seconds": that the
// container is paused, else its health.
func runningNote(m *container.Manager, r *container.Record, s container.State) string {
	if s.Paused {
		return " (Paused)"
	}
	h := m.Health(r)
	switch {
	case h == nil:
		return ""
	case h.Status == container.Starting:
		return " (health: starting)"
	default:
		return " (" + h.Status + ")"
	}
}

// addHealthFlags are run's and create's health check flags, docker's.
func addHealthFlags(fs *pflag.FlagSet, h *container.HealthOptions) {
	fs.StringVar(&h.Cmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&h.Interval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.DurationVar(&h.Timeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&h.StartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.IntVar(&h.Retries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.BoolVar(&h.None, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
}

// printTop prints top's table: docker's columns, at least 20 wide and 3
// apart.
func printTop(out io.Writer, procs *container.Processes) error {
	w := tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(w, strings.Join(procs.Titles, "\t"))
	for _, p := range procs.Processes {
		fmt.Fprintln(w, strings.Join(p, "\t"))
	}
	return w.Flush()
}

// healthFilterValue is what ps --filter health= compares: the health
// status of a running container with a health check, else "none".
func healthFilterValue(m *container.Manager, r *container.Record, s container.State) string {
	if h := m.Health(r); h != nil && s.Status == container.Running {
		return h.Status
	}
	return "none"
}

// checkHealthFilter refuses a health= value docker does not know.
func checkHealthFilter(vals []string) error {
	for _, v := range vals {
		switch v {
		case container.Starting, container.Healthy, container.Unhealthy, "none":
		default:
			//lint:ignore ST1005 docker's words, which scripts match
			return errdefs.InvalidArgument(fmt.Errorf("Unrecognised filter value for health: %s", v))
		}
	}
	return nil
}
