// Package cli is strata's command line: flags, output and exit statuses
// only; the work is done by the packages below. Each command is one
// function, newXxxCmd(a *app), listed in commands.go; errors become exit
// statuses in exit.go.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/rootless"
	"github.com/strata-dev/strata/internal/store"
)

// Version is set at link time (-ldflags "-X ...cli.Version=...").
var Version = "0.1.0-dev"

// app is what every command shares: the global flags and the store they
// open, and where output goes (tests give buffers).
type app struct {
	root   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	st     *store.Store
	now    func() time.Time // the clock CREATED columns count from (tests fix it)
}

// store opens the store once, on first use, so that --help and version never
// touch the disk.
func (a *app) store() (*store.Store, error) {
	if a.st != nil {
		return a.st, nil
	}
	st, err := store.Open(a.root)
	if err != nil {
		return nil, err
	}
	if rl := rootless.Current(); rl.Rootless {
		st.RunDir = rl.StoreRunDir(st.Root)
	}
	a.st = st
	return st, nil
}

func defaultRoot() string {
	if r := os.Getenv("STRATA_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 && !rootless.Current().Rootless {
		return "/var/lib/strata"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "strata")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "strata")
}

// newRoot builds the command tree.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "A daemonless container image engine: build, store, run, analyse and move OCI images",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetVersionTemplate("strata version {{.Version}}\n")
	root.PersistentFlags().StringVar(&a.root, "root", defaultRoot(), "directory of the image store (env STRATA_ROOT)")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	// A bad flag is docker's status 125, whichever command it was given to.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return errdefs.Exit(exitUsage, err) })
	for _, c := range commands(a) {
		root.AddCommand(c)
	}
	return root
}

// Main runs strata with args and returns the exit status.
func Main(args []string) int {
	return run(args, os.Stdin, os.Stdout, os.Stderr)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&app{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}).execute(args)
}

// execute runs one command line and returns its exit status.
func (a *app) execute(args []string) int {
	stderr := a.stderr
	root := newRoot(a)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	code := exitCode(err)
	var ee *errdefs.ExitError
	if errors.As(err, &ee) && ee.Err == nil {
		return code // the status says it all (a container's own exit)
	}
	fmt.Fprintln(stderr, "Error: "+noSpaceNamed(cmd, err, oneLine(err.Error())))
	return code
}

// noSpaceNamed makes a full disk's message say which command it stopped:
// "no space left on device" comes from deep inside (a blob's temp file, a
// snapshot), where the operation is not known.
func noSpaceNamed(cmd *cobra.Command, err error, msg string) string {
	if cmd == nil || !errors.Is(err, syscall.ENOSPC) && !strings.Contains(msg, syscall.ENOSPC.Error()) {
		return msg
	}
	if name := cmd.Name(); !strings.HasPrefix(msg, name+":") {
		return name + ": " + msg
	}
	return msg
}

// oneLine keeps an error message on one line, as the contract with users
// and scripts is one clear line on stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func (a *app) println(args ...any) { fmt.Fprintln(a.stdout, args...) }
