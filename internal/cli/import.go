package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

func newImportCmd(a *app) *cobra.Command {
	var changeList []string
	var message string
	c := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []image.Reference
			if len(args) == 2 {
				r, err := image.ParseTagged(args[1])
				if err != nil {
					return err
				}
				names = append(names, r)
			}
			// Check the changes before reading a possibly large tarball.
			var probe image.ContainerConfig
			if err := changes.Apply(&probe, changeList); err != nil {
				return err
			}
			var src io.Reader = a.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src = f
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			im, err := st.Import(src, store.ImportOptions{Changes: changeList, Message: message, Names: names})
			if err != nil {
				return err
			}
			a.println(im.ID.String())
			return nil
		},
	}
	stringArrayVarP(c.Flags(), &changeList, "change", "c", "Apply Dockerfile instruction to the created image")
	c.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	return c
}
