package sandbox

import (
	"errors"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// initBinaries are the static init programs --init may use, in order:
// docker's name for tini, then Debian's tini-static (package tini). A
// static binary, since the image may have no libc.
var initBinaries = []string{"docker-init", "tini-static"}

// errNoInit says no init binary is installed.
var errNoInit = errors.New("--init needs tini: install Debian's tini package (tini-static) or docker-init")

// findInit returns the host path of the init binary.
func findInit() (string, error) {
	for _, name := range initBinaries {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/bin", "/usr/local/bin", "/usr/libexec/docker"} {
			if p, err := exec.LookPath(dir + "/" + name); err == nil {
				return p, nil
			}
		}
	}
	return "", errNoInit
}

// addInit makes the init binary the container's PID 1, running the
// process as docker runs it: docker-init -- ARGS.
func addInit(s *specs.Spec) error {
	bin, err := findInit()
	if err != nil {
		return err
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: bin, Options: []string{"bind", "ro"}})
	s.Process.Args = append([]string{InitPath, "--"}, s.Process.Args...)
	return nil
}
