package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/rootless"
	ociruntime "github.com/strata-dev/strata/internal/runtime"
)

// systemInfo is what `strata info` shows, with docker's JSON names where
// docker has the field (`docker info --format '{{.Driver}}'` works alike).
type systemInfo struct {
	ServerVersion     string
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Driver            string
	DriverReason      string
	DockerRootDir     string
	DefaultRuntime    string
	RuntimeReason     string
	Isolation         string // of build's RUN steps, as chosen here (executor.ChooseIsolation)
	IsolationReason   string
	Rootless          bool
	SubUIDs           string `json:",omitempty"`
	SubGIDs           string `json:",omitempty"`
	RuntimeDir        string `json:",omitempty"`
	CgroupVersion     string
	CgroupDriver      string
	KernelVersion     string
	OperatingSystem   string
	OSType            string
	Architecture      string
	NCPU              int
	MemTotal          int64
	Name              string
}

func newInfoCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := a.systemInfo()
			if err != nil {
				return err
			}
			switch format {
			case "":
				return printInfo(a.stdout, info)
			case "json":
				format = "{{json .}}"
			}
			return a.printTemplate(format, info)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format the output using the given Go template, or json")
	return cmd
}

// printTemplate prints v through the Go template format, one line.
func (a *app) printTemplate(format string, v any) error {
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	if err := t.Execute(a.stdout, v); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// systemInfo gathers the facts: the store's, the runtime's, the host's.
func (a *app) systemInfo() (*systemInfo, error) {
	st, err := a.store()
	if err != nil {
		return nil, err
	}
	info := &systemInfo{ServerVersion: Version, DockerRootDir: st.Root, OSType: runtime.GOOS, NCPU: runtime.NumCPU()}
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	info.Images = len(imgs)
	if info.Driver, info.DriverReason, err = st.StorageDriver(); err != nil {
		return nil, err
	}
	m, err := container.New(st, "", "")
	if err != nil {
		return nil, err
	}
	recs, err := m.List()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		switch m.State(r.ID).Status {
		case container.Running:
			info.ContainersRunning++
		case "paused":
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	info.Containers = len(recs)
	if info.DefaultRuntime, info.RuntimeReason, err = ociruntime.Chosen(); err != nil {
		info.DefaultRuntime, info.RuntimeReason = "none", err.Error()
	}
	if rl := rootless.Current(); rl.Rootless {
		info.Rootless = true
		info.SubUIDs = rl.SubUID.String() + " (" + rootless.SubUIDFile + ")"
		info.SubGIDs = rl.SubGID.String() + " (" + rootless.SubGIDFile + ")"
		info.RuntimeDir = rl.RuntimeDir
	}
	info.Isolation, info.IsolationReason = isolationInfo()
	info.CgroupVersion, info.CgroupDriver = ociruntime.Cgroups()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info.KernelVersion, info.Architecture, info.Name = unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), unix.ByteSliceToString(u.Nodename[:])
	}
	info.OperatingSystem = osName("/etc/os-release")
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		info.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	return info, nil
}

// printInfo prints info as docker's server section is laid out.
func printInfo(w io.Writer, i *systemInfo) error {
	var b strings.Builder
	line := func(indent, key string, v any) { fmt.Fprintf(&b, "%s%s: %v\n", indent, key, v) }
	line("", "Server Version", i.ServerVersion)
	line("", "Containers", i.Containers)
	line(" ", "Running", i.ContainersRunning)
	line(" ", "Paused", i.ContainersPaused)
	line(" ", "Stopped", i.ContainersStopped)
	line("", "Images", i.Images)
	line("", "Storage Driver", i.Driver)
	line(" ", "Why", i.DriverReason)
	line("", "Root Dir", i.DockerRootDir)
	line("", "Runtime", i.DefaultRuntime)
	line(" ", "Why", i.RuntimeReason)
	line("", "Build Isolation", i.Isolation)
	line(" ", "Why", i.IsolationReason)
	line("", "Rootless", i.Rootless)
	if i.Rootless {
		line(" ", "Subordinate UIDs", i.SubUIDs)
		line(" ", "Subordinate GIDs", i.SubGIDs)
		line(" ", "Runtime Dir", i.RuntimeDir)
	}
	line("", "Cgroup Version", i.CgroupVersion)
	line("", "Cgroup Driver", i.CgroupDriver)
	line("", "Kernel Version", i.KernelVersion)
	line("", "Operating System", i.OperatingSystem)
	line("", "OSType", i.OSType)
	line("", "Architecture", i.Architecture)
	line("", "CPUs", i.NCPU)
	line("", "Total Memory", units.BytesSize(float64(i.MemTotal)))
	line("", "Name", i.Name)
	_, err := io.WriteString(w, b.String())
	return err
}

// osName is os-release's PRETTY_NAME, as docker shows it.
func osName(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return runtime.GOOS
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return runtime.GOOS
}
