// Command strata is a daemonless container image engine.
package main

import (
	"os"

	"github.com/strata-dev/strata/internal/cli"
	"github.com/strata-dev/strata/internal/profiling"
	"github.com/strata-dev/strata/internal/rootless"
)

func main() {
	// A user other than root runs the command in a user namespace of
	// its own, in a second process (internal/rootless).
	if code, done := rootless.Enter(os.Args[1:], os.Stderr); done {
		os.Exit(code)
	}
	stop := profiling.Start()
	code := cli.Main(os.Args[1:])
	stop()
	os.Exit(code)
}
