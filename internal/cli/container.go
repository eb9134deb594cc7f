package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/rootless"
	"github.com/strata-dev/strata/internal/sandbox"
)

// containerFlags select the storage driver and the OCI runtime; every
// container command has them (the store records the driver on first use).
type containerFlags struct {
	driver  string
	runtime string
}

func (f *containerFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.driver, "storage-driver", os.Getenv("STRATA_STORAGE_DRIVER"), "Storage driver: overlay or vfs (default: overlay if it mounts here; recorded in the store)")
	fs.StringVar(&f.runtime, "runtime", "", "OCI runtime binary (default: $STRATA_RUNTIME, else crun, else runc)")
}

func (a *app) containers(f *containerFlags) (*container.Manager, error) {
	st, err := a.store()
	if err != nil {
		return nil, err
	}
	return container.New(st, f.driver, f.runtime)
}

// createFlags are the flags create and run share.
type createFlags struct {
	o          container.CreateOptions
	entrypoint string
	platform   string
	sandbox    sandbox.Flags
	pull       string
	cidfile    string
	dns        []string
}

func (c *createFlags) add(fs *pflag.FlagSet) {
	fs.SetInterspersed(false) // flags after IMAGE belong to the command
	fs.StringVar(&c.o.Name, "name", "", "Assign a name to the container")
	fs.StringVar(&c.cidfile, "cidfile", "", "Write the container ID to the file")
	stringArrayVarP(fs, &c.dns, "dns", "", "Set custom DNS servers")
	stringArrayVarP(fs, &c.o.DNS.Search, "dns-search", "", "Set custom DNS search domains")
	stringArrayVarP(fs, &c.o.DNS.Options, "dns-option", "", "Set DNS options")
	stringArrayVarP(fs, &c.o.GroupAdd, "group-add", "", "Add additional groups to join")
	fs.BoolVarP(&c.o.Stdin, "interactive", "i", false, "Keep STDIN open")
	fs.BoolVarP(&c.o.Tty, "tty", "t", false, "Allocate a pseudo-TTY")
	stringArrayVarP(fs, &c.o.Env, "env", "e", "Set environment variables")
	stringArrayVarP(fs, &c.o.EnvFiles, "env-file", "", "Read in a file of environment variables")
	fs.StringVarP(&c.o.WorkingDir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&c.o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&c.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVar(&c.platform, "platform", "", "Run this platform's image of a multi-platform image (OS/ARCH[/VARIANT]; default: this machine's)")
	fs.StringVar(&c.o.Network, "network", "", "Connect a container to a network: bridge (default: strata0, "+network.Subnet+"), host or none")
	stringArrayVarP(fs, &c.o.Publish, "publish", "p", "Publish a container's port(s) to the host ([IP:][HOSTPORT:]CTRPORT[/PROTO])")
	fs.BoolVarP(&c.o.PublishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	stringArrayVarP(fs, &c.o.Expose, "expose", "", "Expose a port or a range of ports")
	stringArrayVarP(fs, &c.o.Labels, "label", "l", "Set meta data on a container")
	stringArrayVarP(fs, &c.o.Volumes, "volume", "v", "Bind mount a volume (HOST-PATH:CONTAINER-PATH[:ro])")
	fs.StringVarP(&c.o.Hostname, "hostname", "h", "", "Container host name")
	fs.Bool("help", false, "Print usage") // -h is --hostname, as in docker
	fs.BoolVar(&c.o.AutoRemove, "rm", false, "Automatically remove the container when it exits")
	fs.StringVar(&c.pull, "pull", pullMissing, `Pull image before creating ("always"|"missing"|"never")`)
	addSandboxFlags(fs, &c.sandbox)
	addHealthFlags(fs, &c.o.Health)
}

func (c *createFlags) options(cmd *cobra.Command, args []string) (container.CreateOptions, error) {
	o := c.o
	o.Image, o.Args = args[0], args[1:]
	if cmd.Flags().Changed("entrypoint") {
		o.Entrypoint = &c.entrypoint
	}
	if c.platform != "" {
		p, err := image.ParsePlatform(c.platform)
		if err != nil {
			return o, &container.UsageError{Err: err}
		}
		o.Platform = &p
	}
	for _, d := range c.dns {
		ip := net.ParseIP(d)
		if ip == nil {
			return o, &container.UsageError{Err: fmt.Errorf("invalid argument %q for \"--dns\" flag: %s is not an ip address", d, d)}
		}
		o.DNS.Servers = append(o.DNS.Servers, ip.String())
	}
	var err error
	o.Sandbox, err = sandbox.Parse(c.sandbox)
	return o, err
}

// selfExe is the strata binary a detached container's monitor runs.
var selfExe = func() (string, error) { return os.Executable() }

// startDetached starts a monitor process for r.
func (a *app) startDetached(m *container.Manager, f *containerFlags, r *container.Record) error {
	self, err := selfExe()
	if err != nil {
		return err
	}
	return m.StartDetached(r, self, a.monitorArgs(m, f, r))
}

// monitorArgs are the arguments of the monitor process of r.
func (a *app) monitorArgs(m *container.Manager, f *containerFlags, r *container.Record) []string {
	args := []string{"--root", a.root, "container-monitor", "--storage-driver", m.SN.Driver()}
	if f.runtime != "" {
		args = append(args, "--runtime", f.runtime)
	}
	return append(args, r.ID)
}

// checkTTY refuses, as docker's client does, to attach a stdin that is not
// a terminal to a -t process (-t alone, without one, gets a terminal made
// for it).
func (a *app) checkTTY(attachStdin, tty bool) error {
	if attachStdin && tty && !isTerminal(a.stdin) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

func (a *app) stdio(interactive bool) container.Stdio {
	s := container.Stdio{Stdout: a.stdout, Stderr: a.stderr}
	if interactive {
		s.Stdin = a.stdin
	}
	return s
}

func newRunCmd(a *app) *cobra.Command {
	var cf createFlags
	var f containerFlags
	var detach bool
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The few MB a run allocates before its container starts
			// (the start of the binary takes 2) are enough for one
			// collection at Go's default heap target of 4 MB, right
			// in the middle of the start. A run's heap stays small:
			// a higher target costs little memory.
			debug.SetGCPercent(400)
			if err := a.checkTTY(cf.o.Stdin && !detach, cf.o.Tty); err != nil {
				return err
			}
			m, r, err := a.create(&f, &cf, cmd, args)
			if err != nil {
				return runError(err)
			}
			if detach {
				err = a.startDetached(m, &f, r)
			} else {
				err = m.Start(r, a.stdio(cf.o.Stdin))
			}
			var ee *container.ExitError
			if err != nil && cf.o.AutoRemove && (!errors.As(err, &ee) || ee.Err != nil) {
				// Not started: --rm removes it all the same.
				m.Remove(r, true)
			}
			if err == nil && detach {
				a.println(r.ID)
			}
			return runError(err)
		},
	}
	cf.add(c.Flags())
	f.add(c.Flags())
	c.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	return c
}

func newCreateCmd(a *app) *cobra.Command {
	var cf createFlags
	var f containerFlags
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, r, err := a.create(&f, &cf, cmd, args)
			if err != nil {
				return err
			}
			a.println(r.ID)
			return nil
		},
	}
	cf.add(c.Flags())
	f.add(c.Flags())
	return c
}

func newStartCmd(a *app) *cobra.Command {
	var f containerFlags
	var attach, interactive bool
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			if attach || interactive {
				if len(args) > 1 {
					return fmt.Errorf("you cannot start and attach multiple containers at once")
				}
				r, err := m.Get(args[0])
				if err != nil {
					return err
				}
				return runError(m.Start(r, a.stdio(interactive)))
			}
			return a.each(m, args, func(r *container.Record) error {
				if err := a.startDetached(m, &f, r); err != nil {
					return err
				}
				a.println(r.Name)
				return nil
			})
		},
	}
	f.add(c.Flags())
	c.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	return c
}

func newStopCmd(a *app) *cobra.Command {
	var seconds int
	var sig string
	c := perContainerCmd(a, "stop", "Stop one or more running containers", func(m *container.Manager, r *container.Record) error {
		return m.Stop(r, sig, time.Duration(seconds)*time.Second)
	})
	c.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container (default: its stop signal, else SIGTERM)")
	c.Flags().IntVarP(&seconds, "time", "t", 10, "Seconds to wait before killing the container")
	c.Flags().IntVar(&seconds, "timeout", 10, "Seconds to wait before killing the container (current docker's name for --time)")
	return c
}

func newKillCmd(a *app) *cobra.Command {
	var sig string
	c := perContainerCmd(a, "kill", "Kill one or more running containers", func(m *container.Manager, r *container.Record) error {
		return m.Kill(r, sig)
	})
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return c
}

func newWaitCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			return a.each(m, args, func(r *container.Record) error {
				code, err := m.Wait(r)
				if err != nil {
					return err
				}
				a.println(code)
				return nil
			})
		},
	}
	f.add(c.Flags())
	return c
}

func newRmCmd(a *app) *cobra.Command {
	var force bool
	c := perContainerCmd(a, "rm", "Remove one or more containers", func(m *container.Manager, r *container.Record) error {
		return m.Remove(r, force)
	})
	c.Annotations = map[string]string{missingOKFlag: "force"}
	c.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return c
}

func newPsCmd(a *app) *cobra.Command {
	var f containerFlags
	var all, quiet, noTrunc, latest, size bool
	var last int
	var format string
	var filters []string
	c := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fa, err := parseFilters(filters, containerFilters...)
			if err != nil {
				return err
			}
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			rs, err := m.List()
			if err != nil {
				return err
			}
			pass, err := containerMatcher(fa, m, rs)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			// -n and -l count the newest containers of any state, as a
			// status filter shows stopped ones without -a (docker's).
			all = all || last > 0 || len(fa["status"]) > 0 || len(fa["exited"]) > 0
			var rows []any
			now := a.now()
			for _, r := range rs {
				if last > 0 && len(rows) == last {
					break
				}
				row := containerRow(m, r, now, noTrunc)
				if !all && !strings.HasPrefix(row.Status, "Up ") || !pass(r, m.State(r.ID)) {
					continue
				}
				if size {
					row.Size = containerSize(m, r)
				}
				rows = append(rows, row)
			}
			if quiet {
				for _, r := range rows {
					a.println(r.(psRow).ID)
				}
				return nil
			}
			cols := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if size {
				cols += "\t{{.Size}}"
			}
			return table{format: format, columns: cols, headers: psHeaders}.print(a.stdout, rows)
		},
	}
	f.add(c.Flags())
	c.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	c.Flags().StringVar(&format, "format", "", "Format output using a Go template, 'table TEMPLATE' or 'json'")
	stringArrayVarP(c.Flags(), &filters, "filter", "f", "Filter output based on conditions provided (id, name, label, status, ancestor, exited, before, since)")
	c.Flags().IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	c.Flags().BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	c.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return c
}

// containerSize is ps -s's SIZE: the container's own layer, and with its
// image's ("2B (virtual 1.99MB)").
func containerSize(m *container.Manager, r *container.Record) string {
	own := m.LayerSize(r)
	virtual := own
	if im, err := m.St.Resolve(r.Image.String()); err == nil {
		virtual += im.Size()
	}
	return humanSize(own) + " (virtual " + humanSize(virtual) + ")"
}

func newExecCmd(a *app) *cobra.Command {
	var f containerFlags
	var tty, interactive bool
	var eo container.ExecOptions
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			eo.Args, eo.Tty = args[1:], tty
			if err := a.checkTTY(interactive && !eo.Detach, tty); err != nil {
				return err
			}
			if eo.Detach {
				return m.Exec(r, eo, container.Stdio{})
			}
			return runError(m.Exec(r, eo, a.stdio(interactive)))
		},
	}
	c.Flags().SetInterspersed(false)
	f.add(c.Flags())
	c.Flags().BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open")
	c.Flags().BoolVarP(&eo.Detach, "detach", "d", false, "Detached mode: run command in the background")
	stringArrayVarP(c.Flags(), &eo.Env, "env", "e", "Set environment variables")
	c.Flags().StringVarP(&eo.WorkingDir, "workdir", "w", "", "Working directory inside the container")
	c.Flags().StringVarP(&eo.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	return c
}

func newDiffCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			cs, err := m.Diff(r)
			if err != nil {
				return err
			}
			for _, ch := range cs {
				a.println(ch.String())
			}
			return nil
		},
	}
	f.add(c.Flags())
	return c
}

func newCommitCmd(a *app) *cobra.Command {
	var f containerFlags
	var co container.CommitOptions
	c := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			if len(args) == 2 {
				co.Ref = args[1]
			}
			im, err := m.Commit(r, co)
			if err != nil {
				return err
			}
			a.println(im.ID)
			return nil
		},
	}
	f.add(c.Flags())
	stringArrayVarP(c.Flags(), &co.Changes, "change", "c", "Apply Dockerfile instruction to the created image")
	c.Flags().StringVarP(&co.Message, "message", "m", "", "Commit message")
	c.Flags().StringVarP(&co.Author, "author", "a", "", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	c.Flags().BoolVarP(&co.Pause, "pause", "p", true, "Pause container during commit")
	return c
}

func newExportCmd(a *app) *cobra.Command {
	var f containerFlags
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			w := a.stdout
			if output != "" {
				out, err := os.Create(output)
				if err != nil {
					return err
				}
				defer out.Close()
				w = out
			} else if isTerminal(a.stdout) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			return m.Export(r, w)
		},
	}
	f.add(c.Flags())
	c.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return c
}

func newCpCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   "cp CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			srcC, srcP, srcIn := splitCp(args[0])
			dstC, dstP, dstIn := splitCp(args[1])
			switch {
			case srcIn && dstIn:
				return fmt.Errorf("copying between containers is not supported")
			case srcIn:
				r, err := m.Get(srcC)
				if err != nil {
					return err
				}
				if args[1] == "-" { // a tar on stdout, as docker's
					return m.ArchiveFrom(r, srcP, a.stdout)
				}
				return m.CopyFrom(r, srcP, dstP)
			case dstIn:
				r, err := m.Get(dstC)
				if err != nil {
					return err
				}
				if args[0] == "-" { // a tar from stdin, extracted there
					return m.ExtractTo(cmd.Context(), r, dstP, a.stdin)
				}
				return m.CopyTo(r, srcP, dstP)
			}
			return fmt.Errorf("must specify at least one container source")
		},
	}
	f.add(c.Flags())
	return c
}

func newContainerMonitorCmd(a *app) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:    "container-monitor CONTAINER",
		Short:  "Run a detached container (started by run -d and start)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, r, err := a.container(&f, args[0])
			if err != nil {
				return err
			}
			return m.Monitor(r)
		},
	}
	f.add(c.Flags())
	return c
}

func newContainerPruneCmd(a *app) *cobra.Command {
	var f containerFlags
	var force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, err := parsePruneFilters(filters, a.now())
			if err != nil {
				return err
			}
			if !force && !a.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			ids, freed, err := m.Prune(pf.until, pf.containerKeep())
			a.printPrunedContainers(ids)
			if err != nil {
				return err
			}
			a.println("Total reclaimed space: " + humanSize(freed))
			return nil
		},
	}
	f.add(c.Flags())
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	stringArrayVarP(c.Flags(), &filters, "filter", "", "Provide filter values (until=DURATION|TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE])")
	return c
}

// each runs fn for every container named in args, going on after an
// error as docker does, and reports the errors on one line.
func (a *app) each(m *container.Manager, args []string, fn func(*container.Record) error) error {
	var errs []string
	for _, ref := range args {
		r, err := m.Get(ref)
		if err == nil {
			err = fn(r)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// argFor is what docker echoes for a container: the name or ID the user
// gave.
func argFor(args []string, r *container.Record) string {
	// A name wins over an ID prefix, as in Manager.Get: "c1" may also be
	// the first letters of another container's ID.
	for _, a := range args {
		if strings.TrimPrefix(a, "/") == r.Name || a == r.ID {
			return a
		}
	}
	for _, a := range args {
		if strings.HasPrefix(r.ID, a) {
			return a
		}
	}
	return r.Name
}

// splitCp splits CONTAINER:PATH; a path with a slash before the colon is
// a local path.
func splitCp(s string) (ctr, p string, ok bool) {
	i := strings.Index(s, ":")
	if i <= 0 || strings.Contains(s[:i], "/") {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// psRow is a line of ps, with docker's --format field names.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, Ports, Names, State, Size, Mounts, Networks, Labels string
}

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "State": "STATE",
	"Size": "SIZE", "Mounts": "MOUNTS", "Networks": "NETWORKS", "Labels": "LABELS",
}

func containerRow(m *container.Manager, r *container.Record, now time.Time, noTrunc bool) psRow {
	s := m.State(r.ID)
	row := psRow{
		ID: r.ID, Image: imageColumn(m, r, noTrunc), Names: r.Name, State: s.Status, Networks: r.Config.Network,
		CreatedAt:  r.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: since(r.Created, now), Ports: portsColumn(m, r),
	}
	cmd := commandLine(r.Config.Args())
	if !noTrunc {
		row.ID = r.ID[:12]
		if rs := []rune(cmd); len(rs) > 20 {
			cmd = string(rs[:19]) + "…"
		}
	}
	row.Command = strconv.Quote(cmd)
	switch s.Status {
	case container.Running:
		row.Status = "Up " + units.HumanDuration(now.Sub(s.StartedAt)) + runningNote(m, r, s)
		if s.Paused {
			row.State = "paused"
		}
	case container.Exited:
		row.Status = fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
	default:
		row.Status = "Created"
	}
	return row
}

// imageColumn is ps's IMAGE: the name the container was made from while
// it still names the container's image, else the image's ID (docker's: a
// name since moved to another image, or removed, is not shown).
func imageColumn(m *container.Manager, r *container.Record, noTrunc bool) string {
	if im, err := m.St.Resolve(r.ImageRef); err == nil && im.ID == r.Image {
		return r.ImageRef
	}
	if noTrunc {
		return r.Image.String()
	}
	return shortID(r.Image.String())
}

// perContainerCmd is a command that does one thing to each container named
// and prints the name as given, as docker's stop, kill and rm do.
func perContainerCmd(a *app, name, short string, do func(*container.Manager, *container.Record) error) *cobra.Command {
	var f containerFlags
	c := &cobra.Command{
		Use:   name + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.containers(&f)
			if err != nil {
				return err
			}
			if flag := cmd.Annotations[missingOKFlag]; flag != "" && cmd.Flags().Lookup(flag).Value.String() == "true" {
				args = a.dropMissing(m, args)
			}
			return a.each(m, args, func(r *container.Record) error {
				if err := do(m, r); err != nil {
					return err
				}
				a.println(argFor(args, r))
				return nil
			})
		},
	}
	f.add(c.Flags())
	return c
}

// missingOKFlag annotates a perContainerCmd with the flag that makes a
// container that does not exist no failure (rm -f, as docker's: the error
// is printed, the status stays 0).
const missingOKFlag = "missing-ok-flag"

// dropMissing prints docker's error for each container of args that does
// not exist and returns the others.
func (a *app) dropMissing(m *container.Manager, args []string) []string {
	var out []string
	for _, ref := range args {
		if _, err := m.Get(ref); errdefs.IsNotFound(err) {
			fmt.Fprintln(a.stderr, "Error: "+err.Error())
			continue
		}
		out = append(out, ref)
	}
	return out
}

// create makes the container run and create start from, pulling its
// image first as --pull says. Its errors are create's (docker's status 1,
// a bad --pull 125); run gives them status 125 (runError).
func (a *app) create(f *containerFlags, cf *createFlags, cmd *cobra.Command, args []string) (*container.Manager, *container.Record, error) {
	if err := checkPullPolicy(cf.pull); err != nil {
		return nil, nil, errdefs.Exit(exitRunFailure, err)
	}
	m, err := a.containers(f)
	if err != nil {
		return nil, nil, err
	}
	o, err := cf.options(cmd, args)
	if err != nil {
		return nil, nil, err
	}
	if o.Network == "" && rootless.Current().Rootless {
		if err := network.SlirpUsable(); err != nil {
			// Without root the bridge is slirp4netns; without it, the
			// host's network, said once.
			fmt.Fprintf(a.stderr, "NOTE: rootless: no network of its own for the container (%v): it uses the host's network\n", err)
			o.Network = container.NetworkHost
		}
	}
	if o.Network == container.NetworkHost && len(o.Publish) > 0 {
		fmt.Fprintln(a.stderr, "WARNING: Published ports are discarded when using host network mode")
	}
	cid, err := newCIDFile(cf.cidfile)
	if err != nil {
		return nil, nil, err
	}
	defer cid.close()
	ctx, cancel := interruptible(cmd.Context())
	defer cancel()
	if err := a.ensureImage(ctx, m.St, o.Image, cf.pull, o.Platform); err != nil {
		return nil, nil, err
	}
	r, err := m.Create(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if err := cid.write(r.ID); err != nil {
		m.Remove(r, true)
		return nil, nil, err
	}
	return m, r, nil
}

// cidFile is docker's --cidfile: made before the container (refused if it
// exists, so that two runs do not share one), given the container's ID
// once it is made, and removed if it never is.
type cidFile struct {
	path    string
	f       *os.File
	written bool
}

func newCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, f: f}, nil
}

func (c *cidFile) write(id string) error {
	if c.f == nil {
		return nil
	}
	if _, err := c.f.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	c.written = true
	return nil
}

func (c *cidFile) close() {
	if c.f == nil {
		return
	}
	c.f.Close()
	if !c.written {
		os.Remove(c.path)
	}
}

// container opens the containers of the store and finds the one ref names.
func (a *app) container(f *containerFlags, ref string) (*container.Manager, *container.Record, error) {
	m, err := a.containers(f)
	if err != nil {
		return nil, nil, err
	}
	r, err := m.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	return m, r, nil
}

// commandLine is ps's COMMAND as docker writes it: the arguments joined
// by spaces, one with a space in it single-quoted (docker ps shows
// "sh -c 'echo hello >…" for sh -c 'echo hello > /f').
func commandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t\n") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
