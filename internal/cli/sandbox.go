package cli

import (
	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/sandbox"
)

// addSandboxFlags adds run's and create's flags of confinement and
// limits, docker's names and syntax (sandbox.Parse checks them).
func addSandboxFlags(fs *pflag.FlagSet, f *sandbox.Flags) {
	fs.StringArrayVar(&f.CapAdd, "cap-add", nil, "Add Linux capabilities (NAME, CAP_NAME or ALL)")
	fs.StringArrayVar(&f.CapDrop, "cap-drop", nil, "Drop Linux capabilities (NAME, CAP_NAME or ALL)")
	fs.BoolVar(&f.Privileged, "privileged", false, "Give extended privileges to this container (all capabilities and devices, no seccomp)")
	fs.StringArrayVar(&f.SecurityOpt, "security-opt", nil, "Security options (seccomp=unconfined|PROFILE.json, no-new-privileges[=true], systempaths=unconfined)")
	fs.BoolVar(&f.ReadOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVarP(&f.Memory, "memory", "m", "", "Memory limit (e.g. 512m, 1g)")
	fs.StringVar(&f.CPUs, "cpus", "", "Number of CPUs (e.g. 0.5)")
	fs.Int64Var(&f.PidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringArrayVar(&f.Tmpfs, "tmpfs", nil, "Mount a tmpfs directory (PATH[:OPTIONS])")
	fs.StringArrayVar(&f.Mount, "mount", nil, "Attach a filesystem mount to the container (type=bind|tmpfs,...)")
	fs.BoolVar(&f.Init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	addBuildSandboxFlags(fs, f)
}

// addBuildSandboxFlags adds the flags that run and build share.
func addBuildSandboxFlags(fs *pflag.FlagSet, f *sandbox.Flags) {
	fs.StringArrayVar(&f.AddHost, "add-host", nil, "Add a custom host-to-IP mapping (HOST:IP)")
	fs.StringArrayVar(&f.Ulimit, "ulimit", nil, "Ulimit options (e.g. nofile=1024:2048)")
	fs.StringVar(&f.ShmSize, "shm-size", "", "Size of /dev/shm (e.g. 128m)")
}
