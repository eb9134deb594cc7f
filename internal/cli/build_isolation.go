package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/builder/output"
	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// buildIsolation sets up the RUN steps' isolation: --isolation, else oci
// where namespaces and mounts can be made and chroot where they are
// refused (said in one line on stderr). For chroot it gives the build the
// Chroot executor and returns the function that puts this container's
// root back, to call when the build ends.
func (a *app) buildIsolation(asked string, st *store.Store, o *builder.Options, out *output.Spec) (restore func(context.Context) error, err error) {
	none := func(context.Context) error { return nil }
	iso, why, err := executor.ChooseIsolation(asked)
	if err != nil || iso != executor.IsolationChroot {
		return none, err
	}
	if why != nil {
		fmt.Fprintf(a.stderr, "strata: namespaces and mounts are refused here (%v): building with --isolation chroot (RUN steps run in this container's own root)\n", why)
	}
	keep, err := chrootKeep(st, *o, out)
	if err != nil {
		return none, err
	}
	ex := executor.NewChroot(keep, filepath.Join(st.Path(store.BuildTmp), fmt.Sprintf("chroot-root-%d", os.Getpid())))
	o.Executor = ex
	return ex.Restore, nil
}

// chrootKeep lists what chroot isolation must leave alone in this
// container's root: the store, the build's inputs and outputs, strata's
// own binary and certificates, and every mount point (/proc, /sys, /dev,
// /etc/hosts, /etc/resolv.conf, volumes).
func chrootKeep(st *store.Store, o builder.Options, out *output.Spec) ([]string, error) {
	keep := []string{"/proc", "/sys", "/dev", st.Root}
	mounts, err := snapshot.MountPoints()
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if m != "/" {
			keep = append(keep, m)
		}
	}
	if exe, err := os.Executable(); err == nil {
		keep = append(keep, exe)
	}
	for _, env := range []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "DOCKER_CONFIG", "STRATA_CONFIG", "STRATA_CERTS_DIR"} {
		if v := os.Getenv(env); v != "" {
			keep = append(keep, v)
		}
	}
	inputs := []string{o.ContextDir, o.DockerfilePath}
	for _, c := range o.Contexts {
		inputs = append(inputs, c.Dir)
	}
	for _, src := range o.Secrets {
		inputs = append(inputs, src)
	}
	if out != nil && out.Dest != output.Stdout {
		inputs = append(inputs, out.Dest)
	}
	for _, p := range inputs {
		if p == "" || strings.HasPrefix(p, "env:") {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if abs == "/" {
			return nil, errors.New("chroot isolation builds in this container's root: the context (or another input) cannot be / itself")
		}
		keep = append(keep, abs)
	}
	return keep, nil
}

// isolationInfo is the isolation a build chooses here, and why (strata
// info).
func isolationInfo() (string, string) {
	iso, why, err := executor.ChooseIsolation("")
	switch {
	case err != nil:
		return "none", err.Error()
	case why != nil:
		return iso, "namespaces and mounts are refused (" + why.Error() + ")"
	}
	return iso, "namespaces and mounts can be made"
}
