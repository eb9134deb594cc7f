package cli

import (
	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/sandbox"
)

// addSandboxFlags adds run's and create's flags of confinement and
// limits, docker's names and syntax (sandbox.Parse checks them).
func addSandboxFlags(fs *pflag.FlagSet, f *sandbox.Flags) {
	stringArrayVarP(fs, &f.CapAdd, "cap-add", "", "Add Linux capabilities (NAME, CAP_NAME or ALL)")
	stringArrayVarP(fs, &f.CapDrop, "cap-drop", "", "Drop Linux capabilities (NAME, CAP_NAME or ALL)")
	fs.BoolVar(&f.Privileged, "privileged", false, "Give extended privileges to this container (all capabilities and devices, no seccomp)")
	stringArrayVarP(fs, &f.SecurityOpt, "security-opt", "", "Security options (seccomp=unconfined|PROFILE.json, no-new-privileges[=true], systempaths=unconfined)")
	fs.BoolVar(&f.ReadOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVarP(&f.Memory, "memory", "m", "", "Memory limit (e.g. 512m, 1g)")
	fs.StringVar(&f.CPUs, "cpus", "", "Number of CPUs (e.g. 0.5)")
	fs.Int64Var(&f.PidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	stringArrayVarP(fs, &f.Tmpfs, "tmpfs", "", "Mount a tmpfs directory (PATH[:OPTIONS])")
	stringArrayVarP(fs, &f.Mount, "mount", "", "Attach a filesystem mount to the container (type=bind|tmpfs,...)")
	fs.BoolVar(&f.Init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	addBuildSandboxFlags(fs, f)
}

// addBuildSandboxFlags adds the flags that run and build share.
func addBuildSandboxFlags(fs *pflag.FlagSet, f *sandbox.Flags) {
	stringArrayVarP(fs, &f.AddHost, "add-host", "", "Add a custom host-to-IP mapping (HOST:IP)")
	stringArrayVarP(fs, &f.Ulimit, "ulimit", "", "Ulimit options (e.g. nofile=1024:2048)")
	fs.StringVar(&f.ShmSize, "shm-size", "", "Size of /dev/shm (e.g. 128m)")
}
