// Command strata is a daemonless container image engine.
package main

import (
	"os"

	"github.com/strata-dev/strata/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
