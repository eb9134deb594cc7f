package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
)

// proxiedSignals are the signals attach passes on to the container, as
// docker's --sig-proxy does (not SIGCHLD, SIGPIPE, SIGURG, SIGWINCH).
var proxiedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

func newAttachCmd(a *app) *cobra.Command {
	var f containerFlags
	var noStdin, sigProxy bool
	detachKeys := defaultDetachKeys
	c := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			if err := a.checkTTY(!noStdin, r.Config.Tty); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if sigProxy {
				sigs := make(chan os.Signal, 8)
				signal.Notify(sigs, proxiedSignals...)
				defer signal.Stop(sigs)
				go func() {
					for s := range sigs {
						m.Kill(r, unixSignalName(s))
					}
				}()
			} else {
				ctx, cancel = interruptible(ctx)
				defer cancel()
			}
			var stdin io.Reader
			if !noStdin {
				stdin = a.stdin
			}
			detached := false
			if stdin != nil && r.Config.Tty {
				// A terminal of the container's: this one passes every key
				// on (raw), the detach keys end the attach, and the
				// container's terminal gets this one's size.
				restore, err := rawTerminal(a.stdin.(*os.File), func(rows, cols uint16) { m.ResizeTerminal(r, rows, cols) })
				if err != nil {
					return err
				}
				defer restore()
				stdin = &escapeReader{r: stdin, keys: keys, detach: func() { detached = true; cancel() }}
			}
			code, err := m.Attach(ctx, r, stdin, func(e container.LogEntry) error {
				w := a.stdout
				if e.Stream == "stderr" {
					w = a.stderr
				}
				_, err := io.WriteString(w, e.Log)
				return err
			})
			if detached {
				// docker's words and status, without an "Error:".
				fmt.Fprintln(a.stderr, errDetached)
				return errdefs.Exit(1, nil)
			}
			if err != nil || code <= 0 {
				return err
			}
			return errdefs.Exit(code, nil)
		},
	}
	f.add(c.Flags())
	c.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	c.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	c.Flags().StringVar(&detachKeys, "detach-keys", defaultDetachKeys, "Override the key sequence for detaching a container (of a -t container: the keys are passed on to it otherwise, as docker's)")
	return c
}

// unixSignalName is a signal's name without SIG, as the runtime takes it.
func unixSignalName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok {
		if name := unix.SignalName(n); name != "" {
			return strings.TrimPrefix(name, "SIG")
		}
	}
	return "TERM"
}
