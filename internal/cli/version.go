package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	ociruntime "github.com/strata-dev/strata/internal/runtime"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the strata version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "strata version %s\nGo version: %s\nOS/Arch: %s/%s\nRuntime: %s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, ociruntime.Choice())
			return nil
		},
	}
}
