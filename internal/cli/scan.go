package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/vuln"
)

// scanFormats are the --format values of strata scan.
var scanFormats = map[string]func(io.Writer, *vuln.Report) error{
	"table": vuln.WriteTable,
	"json":  vuln.WriteJSON,
	"sarif": vuln.WriteSARIF,
}

func newScanCmd(a *app) *cobra.Command {
	var (
		db, format, severity, dbImport, output string
		exitCode                               int
		onlyPresent                            bool
		reg                                    = registryFlags{maxConcurrent: 1}
	)
	c := &cobra.Command{
		Use:   "scan [OPTIONS] IMAGE\n  strata scan --db-import FILE.zip|DIR",
		Short: "Match the packages of every layer against OSV advisories",
		Long: `Match every package of every layer (as strata sbom lists them) against the OSV
advisories of the --db directory, with each ecosystem's version order. Findings are
grouped by the layer that ships the package; a package a later layer deleted is
reported as "removed in layer N, still shipped": its layer's blob still holds it.

strata never fetches advisories: --db-import loads an osv.dev export (an ecosystem's
all.zip) or a directory of OSV JSON files into the --db directory.

IMAGE is a name or ID in the store, or docker-archive:FILE, oci-archive:FILE, oci:DIR,
or docker://NAME (also registry:NAME).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if dbImport != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if db == "" {
				var err error
				if db, err = vuln.DefaultDir(); err != nil {
					return err
				}
			}
			warn := func(w string) { fmt.Fprintf(a.stderr, "warning: %s\n", w) }
			if dbImport != "" {
				n, err := vuln.Import(db, dbImport, warn)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "imported %d advisories into %s\n", n, db)
				return nil
			}
			write, ok := scanFormats[format]
			if !ok {
				return fmt.Errorf("unknown --format %q (want table, json or sarif)", format)
			}
			sevs, err := vuln.ParseSeverities(severity)
			if err != nil {
				return fmt.Errorf("--severity: %w", err)
			}
			if exitCode < 0 || exitCode > 255 {
				return errors.New("--exit-code must be from 0 to 255")
			}
			s, err := a.generateSBOM(args[0], reg)
			if err != nil {
				return err
			}
			r, err := vuln.Scan(s, db)
			if err != nil {
				return err
			}
			for _, w := range r.Warnings {
				warn(w)
			}
			r.Filter(sevs, onlyPresent)
			if err := writeOutput(a, output, func(w io.Writer) error { return write(w, r) }); err != nil {
				return err
			}
			if exitCode != 0 && len(r.Findings) > 0 {
				return errdefs.Exit(exitCode, nil)
			}
			return nil
		},
	}
	f := c.Flags()
	reg.addTLSVerify(f)
	f.StringVar(&db, "db", "", "directory of OSV advisories (default $XDG_CACHE_HOME/strata/osv)")
	f.StringVar(&dbImport, "db-import", "", "load an osv.dev zip export or a directory of OSV JSON files into --db, then exit")
	f.StringVar(&format, "format", "table", "output format: table, json or sarif")
	f.StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	f.StringVar(&severity, "severity", "", "report only these severities (comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN)")
	f.IntVar(&exitCode, "exit-code", 0, "exit with this code when findings remain after the filters")
	f.BoolVar(&onlyPresent, "only-present", false, "leave out packages a later layer removed (they still ship in the image)")
	return c
}
