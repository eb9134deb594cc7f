// Package lint checks a Dockerfile with BuildKit's own lint rules
// (FromAsCasing, UndefinedVar, JSONArgsRecommended, ...): the checks
// `docker build --check` runs and the warnings BuildKit prints after a
// build. It calls BuildKit's Dockerfile front end in its lint mode
// (dockerfile2llb.DockerfileLint), which parses and walks every stage the
// way a build does but builds nothing, so the rules, their texts and the
// `# check=skip=...` directive are BuildKit's, not a copy of them.
//
// The one thing the front end asks of its caller is each base image's
// config (rules such as UndefinedVar need its ENV, InvalidBaseImagePlatform
// its platform): Options.BaseConfig gives it, from the store; an image it
// does not have is taken as an empty image of the target platform, so that
// a check never pulls anything.
package lint

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	sublint "github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
)

// Options describe the Dockerfile to check.
type Options struct {
	// Filename is the name warnings give the Dockerfile ("Dockerfile").
	Filename  string
	BuildArgs map[string]string
	// Target is the stage built; "" checks every stage, as --check does.
	Target string
	// Platform is the target platform (zero: this machine's).
	Platform image.Platform
	// BaseConfig returns the config blob of a base image for a platform,
	// or nil when it has none.
	BaseConfig func(ref string, platform image.Platform) []byte
}

// Warning is one broken rule.
type Warning struct {
	Rule        string // FromAsCasing
	Description string // what the rule asks for
	URL         string // the rule's documentation
	Detail      string // this case: "'as' and 'FROM' keywords' casing do not match"
	Line        int    // 1-based; 0 when the rule names no line
}

// Short is the one-line form BuildKit prints after a build:
// "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)".
func (w Warning) Short() string {
	s := w.Rule + ": " + w.Detail
	if w.Line > 0 {
		s += fmt.Sprintf(" (line %d)", w.Line)
	}
	return s
}

// Result is what a check found.
type Result struct {
	Warnings []Warning
	// Error is a Dockerfile the front end refuses (the build would fail
	// too), as "Dockerfile:LINE: message"; "" when none.
	Error string

	raw *sublint.LintResults
}

// Check runs BuildKit's lint rules on a Dockerfile.
func Check(ctx context.Context, dockerfile []byte, o Options) (*Result, error) {
	if o.Filename == "" {
		o.Filename = "Dockerfile"
	}
	if o.Platform == (image.Platform{}) {
		o.Platform = image.HostPlatform()
	}
	sm := llb.NewSourceMap(nil, o.Filename, "Dockerfile", dockerfile)
	sm.Definition = &llb.Definition{} // the front end's source map needs one; no LLB is made
	target := ocispec.Platform{OS: o.Platform.OS, Architecture: o.Platform.Architecture, Variant: o.Platform.Variant}
	opt := dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{BuildArgs: o.BuildArgs, Target: o.Target, TargetPlatforms: []ocispec.Platform{target}},
		SourceMap:      sm,
		TargetPlatform: &target,
		MetaResolver:   &resolver{o: o},
	}
	raw, err := dockerfile2llb.DockerfileLint(ctx, dockerfile, opt)
	if err != nil {
		return nil, err
	}
	res := &Result{raw: raw}
	for _, w := range raw.Warnings {
		ww := Warning{Rule: w.RuleName, Description: w.Description, URL: w.URL, Detail: w.Detail}
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			ww.Line = int(w.Location.Ranges[0].Start.Line)
		}
		res.Warnings = append(res.Warnings, ww)
	}
	// BuildKit lists them by line (those without one first).
	sort.SliceStable(res.Warnings, func(i, j int) bool { return res.Warnings[i].Line < res.Warnings[j].Line })
	if raw.Error != nil {
		res.Error = raw.Error.Message
		if r := raw.Error.Location.Ranges; len(r) > 0 {
			res.Error = fmt.Sprintf("%s:%d: %s", o.Filename, r[0].Start.Line, raw.Error.Message)
		}
	}
	return res, nil
}

// PrintCheck writes the report of `build --check` as docker buildx writes
// it: the count, then each warning with its rule, URL, detail and the
// Dockerfile lines around it.
func (r *Result) PrintCheck(w io.Writer) error {
	switch n := len(r.Warnings); {
	case n == 0 && r.Error == "":
		fmt.Fprintln(w, "Check complete, no warnings found.")
	case n == 1:
		fmt.Fprintln(w, "Check complete, 1 warning has been found!")
	default:
		fmt.Fprintf(w, "Check complete, %d warnings have been found!\n", n)
	}
	if err := r.raw.PrintTo(w, nil); err != nil {
		return err
	}
	if r.Error != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "ERROR: "+r.Error)
	}
	return nil
}

// PrintSummary writes the short list BuildKit shows at the end of a build
// that broke rules; nothing when none was broken.
func (r *Result) PrintSummary(w io.Writer) {
	if len(r.Warnings) == 0 {
		return
	}
	noun := "warnings"
	if len(r.Warnings) == 1 {
		noun = "warning"
	}
	// buildx's text, less its "(use docker --debug to expand)".
	fmt.Fprintf(w, "\n %d %s found:\n", len(r.Warnings), noun)
	for _, x := range r.Warnings {
		fmt.Fprintln(w, " - "+x.Short())
	}
}

// resolver gives the front end base image configs (llb.ImageMetaResolver).
type resolver struct{ o Options }

func (r *resolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	p := r.o.Platform
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		q := opt.ImageOpt.Platform
		p = image.Platform{OS: q.OS, Architecture: q.Architecture, Variant: q.Variant}
	}
	if r.o.BaseConfig != nil {
		if raw := r.o.BaseConfig(ref, p); raw != nil {
			return ref, "", raw, nil
		}
	}
	// Unknown here: an image of the platform asked for, with one layer
	// (an image without layers is taken as scratch).
	cfg := map[string]any{
		"os": p.OS, "architecture": p.Architecture, "variant": p.Variant,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref).String()}},
	}
	raw, err := json.Marshal(cfg)
	return ref, "", raw, err
}

// Names lists the rules found, for messages.
func (r *Result) Names() string {
	var names []string
	seen := map[string]bool{}
	for _, w := range r.Warnings {
		if !seen[w.Rule] {
			seen[w.Rule] = true
			names = append(names, w.Rule)
		}
	}
	return strings.Join(names, ", ")
}
