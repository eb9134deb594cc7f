package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/builder/output"
	"github.com/strata-dev/strata/internal/sbom"
	"github.com/strata-dev/strata/internal/source"
)

// sbomFormats are the --format values of strata sbom.
// The documents' creation time is now, or SOURCE_DATE_EPOCH.
var sbomFormats = map[string]func(io.Writer, *sbom.SBOM, time.Time) error{
	"table":          func(w io.Writer, s *sbom.SBOM, _ time.Time) error { return sbom.WriteTable(w, s) },
	"json":           func(w io.Writer, s *sbom.SBOM, _ time.Time) error { return sbom.WriteJSON(w, s) },
	"spdx-json":      sbom.WriteSPDX,
	"cyclonedx-json": sbom.WriteCycloneDX,
}

func newSbomCmd(a *app) *cobra.Command {
	var (
		format, output string
		reg            = registryFlags{maxConcurrent: 1}
	)
	c := &cobra.Command{
		Use:   "sbom [OPTIONS] IMAGE",
		Short: "List the packages of every layer of an image",
		Long: `List every package of every layer: Debian (dpkg), Alpine (apk), RPM (rpmdb: sqlite,
Berkeley DB, NDB), Go binaries, Python (dist-info, egg-info) and npm (node_modules,
package-lock.json) packages, with the
layer that added each one and the layer that removed or replaced it. A package a later
layer deletes is listed too: it still ships in its layer's blob.

IMAGE is a name or ID in the store, or docker-archive:FILE, oci-archive:FILE, oci:DIR,
or docker://NAME (also registry:NAME).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, ok := sbomFormats[format]
			if !ok {
				return fmt.Errorf("unknown --format %q (want table, json, spdx-json or cyclonedx-json)", format)
			}
			s, err := a.generateSBOM(args[0], reg)
			if err != nil {
				return err
			}
			return writeOutput(a, output, func(w io.Writer) error { return write(w, s, a.now()) })
		},
	}
	f := c.Flags()
	reg.addTLSVerify(f)
	f.StringVar(&format, "format", "table", "output format: table, json, spdx-json or cyclonedx-json")
	f.StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return c
}

// generateSBOM lists the packages of the image ref names, warning on
// standard error of each file it could not read.
func (a *app) generateSBOM(ref string, reg registryFlags) (*sbom.SBOM, error) {
	ctx := context.Background()
	src, err := source.Open(ctx, ref, a.sourceOptions(reg))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	s, err := sbom.Generate(ctx, src)
	if err != nil {
		return nil, err
	}
	if s.Image == "" {
		s.Image = ref
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	return s, nil
}

// writeOutput runs write on standard output, or on file when one is
// given (written beside it and renamed: a failure leaves no half file).
func writeOutput(a *app, file string, write func(io.Writer) error) error {
	if file == "" {
		file = output.Stdout
	}
	return output.ToFile(file, a.stdout, write)
}
