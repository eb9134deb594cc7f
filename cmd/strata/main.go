// Command strata is a daemonless container image engine.
package main

import (
	"os"

	"github.com/strata-dev/strata/internal/cli"
	"github.com/strata-dev/strata/internal/profiling"
)

func main() {
	stop := profiling.Start()
	code := cli.Main(os.Args[1:])
	stop()
	os.Exit(code)
}
