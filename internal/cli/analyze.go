package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/analyze"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/source"
)

// ciConfigFiles are looked for in the working directory when --ci is given
// without --ci-config: ours first, then dive's.
var ciConfigFiles = []string{".strata-ci.yaml", ".dive-ci"}

func newAnalyzeCmd(a *app) *cobra.Command {
	var (
		format, ciConfig, tree, htmlFile string
		platform                         string
		ci, interactive, files           bool
		layerN, limit                    int
		rules                            = analyze.DefaultRules()
		reg                              = registryFlags{maxConcurrent: 1}
	)
	c := &cobra.Command{
		Use:   "analyze [OPTIONS] IMAGE",
		Short: "Show what each layer adds, changes, removes and wastes",
		Long: `Analyse the layers of an image: per layer its instruction, size and the files it
added, modified and removed; the image's efficiency and wasted bytes as dive computes
them; which copies of which paths are wasted and by which layer; layers that only
changed metadata; content shipped in several layers.

IMAGE is a name or ID in the store, or docker-archive:FILE, oci-archive:FILE, oci:DIR,
or docker://NAME (also registry:NAME): an image in a registry, read without pulling it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("unknown --format %q (want text or json)", format)
			}
			var mode analyze.TreeMode
			switch tree {
			case "":
			case "image":
				mode = analyze.TreeImage
			case "layer":
				mode = analyze.TreeLayer
			default:
				return fmt.Errorf("unknown --tree %q (want image or layer)", tree)
			}
			if ci {
				var err error
				if rules, err = ciRules(cmd, ciConfig, rules); err != nil {
					return err
				}
			}
			ctx := context.Background()
			so := a.sourceOptions(reg)
			if platform != "" {
				p, err := image.ParsePlatform(platform)
				if err != nil {
					return err
				}
				so.Platform, so.StorePlatform = p, &p
			}
			src, err := source.Open(ctx, args[0], so)
			if err != nil {
				return err
			}
			defer src.Close()
			opts := analyze.Options{UpTo: -1, KeepChanges: interactive || htmlFile != "" || files,
				Packages: tree == "" && !interactive}
			if tree != "" {
				n, layers := layerN, len(src.Layers())
				if n < 0 {
					n += layers
				}
				if n < 0 || n >= layers {
					return fmt.Errorf("--layer %d: the image has %d layers (0 to %d)", layerN, layers, layers-1)
				}
				opts.UpTo = n
			}
			res, err := analyze.Analyze(ctx, src, opts)
			if err != nil {
				return err
			}
			if res.Image == "" {
				res.Image = args[0] // an archive's image with no name
			}
			if tree != "" {
				return analyze.WriteTree(a.stdout, res, mode)
			}
			if htmlFile != "" {
				if err := writeHTMLFile(htmlFile, res); err != nil {
					return err
				}
			}
			if interactive {
				return analyze.RunTUI(res, a.stdin, a.stdout)
			}
			var verdict []analyze.RuleResult
			pass := true
			if ci {
				verdict, pass, err = analyze.Evaluate(res, rules)
				if err != nil {
					return err
				}
				res.CI = &analyze.CIReport{Rules: verdict, Pass: pass}
			}
			if format == "json" {
				err = analyze.WriteJSON(a.stdout, res)
			} else if htmlFile == "" || ci {
				err = analyze.WriteText(a.stdout, res, limit)
				if ci {
					analyze.WriteRules(a.stdout, verdict, pass)
				}
			}
			if err != nil {
				return err
			}
			if !pass {
				return errdefs.Exit(exitFailure, nil)
			}
			return nil
		},
	}
	f := c.Flags()
	reg.addTLSVerify(f)
	f.StringVar(&format, "format", "text", "output format: text or json (all lists, unabridged)")
	f.StringVar(&platform, "platform", "", "analyse this platform's image of a multi-platform image (OS/ARCH[/VARIANT]; default: this machine's)")
	f.BoolVar(&files, "files", false, "with --format json, list every path each layer changed")
	f.IntVar(&limit, "limit", 20, "longest list printed in text output (0: all)")
	f.BoolVar(&ci, "ci", false, "check the image against CI rules; exit 1 when one fails")
	f.StringVar(&ciConfig, "ci-config", "", "CI rules file (default: ./.strata-ci.yaml, else dive's ./.dive-ci)")
	f.StringVar(&rules.LowestEfficiency, "lowest-efficiency", rules.LowestEfficiency, "fail below this efficiency (0-1; \"disabled\" to skip)")
	f.StringVar(&rules.HighestWastedBytes, "highest-wasted-bytes", rules.HighestWastedBytes, "fail above this many wasted bytes (e.g. 20MB)")
	f.StringVar(&rules.HighestUserWastedPercent, "highest-user-wasted-percent", rules.HighestUserWastedPercent, "fail above this ratio of wasted to user bytes (0-1)")
	f.StringVar(&tree, "tree", "", "print the file tree: \"image\" (the image up to --layer) or \"layer\" (only what --layer changed)")
	f.Lookup("tree").NoOptDefVal = "image"
	f.IntVar(&layerN, "layer", -1, "layer of --tree, from 0 (negative: from the top)")
	f.BoolVarP(&interactive, "interactive", "i", false, "browse layers and trees in the terminal")
	f.StringVar(&htmlFile, "html", "", "write a self-contained HTML page of the analysis to this file")
	return c
}

// ciRules layers the rules: dive's defaults, then the config file, then
// the flags given on the command line.
func ciRules(cmd *cobra.Command, path string, flags analyze.Rules) (analyze.Rules, error) {
	r := analyze.DefaultRules()
	if path == "" {
		for _, p := range ciConfigFiles {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path != "" {
		var err error
		if r, err = analyze.LoadRules(path, r); err != nil {
			return r, fmt.Errorf("CI config: %w", err)
		}
	}
	fs := cmd.Flags()
	if fs.Changed("lowest-efficiency") {
		r.LowestEfficiency = flags.LowestEfficiency
	}
	if fs.Changed("highest-wasted-bytes") {
		r.HighestWastedBytes = flags.HighestWastedBytes
	}
	if fs.Changed("highest-user-wasted-percent") {
		r.HighestUserWastedPercent = flags.HighestUserWastedPercent
	}
	return r, nil
}

// sourceOptions are where analyze may read an image from: the store, and
// registries through a client made on first use (no progress output).
func (a *app) sourceOptions(reg registryFlags) source.Options {
	return source.Options{
		Store:    a.store,
		Registry: lazyRegistryClient(reg),
		Platform: image.HostPlatform(),
	}
}

func writeHTMLFile(path string, res *analyze.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := analyze.WriteHTML(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
