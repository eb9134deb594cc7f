package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/atomicfile"
	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/builder/output"
	"github.com/strata-dev/strata/internal/image"
)

// buildOutput sets o.Output from --output: the image goes there instead
// of the store. It returns the parsed spec (nil without --output).
func (a *app) buildOutput(outs []string, o *builder.Options) (*output.Spec, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	if len(outs) > 1 {
		return nil, errors.New("only one --output can be given")
	}
	sp, err := output.Parse(outs[0])
	if err != nil {
		return nil, err
	}
	if sp.Dest == output.Stdout && isTerminal(a.stdout) {
		return nil, errors.New("refusing to write the output to a terminal: redirect stdout or give dest=FILE")
	}
	if sp.Type != output.Local && sp.Dest != output.Stdout {
		// Refused before the build, not after it.
		if err := atomicfile.CheckPath(sp.Dest); err != nil {
			return nil, err
		}
	}
	tags := o.Tags
	o.Output = func(ctx context.Context, src image.Source) error {
		return output.Write(ctx, sp, src, tags, a.stdout)
	}
	return &sp, nil
}

// writeBuildMetadata writes --metadata-file as buildx does: the image's
// config and manifest digests, its descriptor and names, for the outputs
// that make an image (the store, oci, docker); a root filesystem output
// has none of them.
func writeBuildMetadata(path string, res *builder.Result, o builder.Options, sp *output.Spec) error {
	md := map[string]any{}
	if sp == nil || sp.Type == output.OCI || sp.Type == output.Docker {
		md["containerimage.config.digest"] = res.ImageID.String()
		md["containerimage.digest"] = res.Manifest.String()
		md["containerimage.descriptor"] = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: res.Manifest, Size: res.ManifestSize}
		var names []string
		for _, t := range o.Tags {
			names = append(names, t.String())
		}
		if sp != nil {
			names = append(names, sp.Names...)
		}
		if len(names) > 0 {
			md["image.name"] = strings.Join(names, ",")
		}
	}
	b, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
