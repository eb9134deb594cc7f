// Package output writes a built image where `build --output` says, as
// docker buildx's exporters do, instead of into the store:
//
//	type=local,dest=DIR    the image's root filesystem, written into DIR
//	type=tar,dest=FILE     the same as one tar (dest=- for stdout)
//	type=oci,dest=FILE     an OCI image layout in a tar (oci-archive)
//	type=docker,dest=FILE  a docker-archive that docker load reads
//	DIR                    type=local,dest=DIR; "-" is type=tar,dest=-
//
// The archives are internal/archive's (Save); the root filesystem is the
// image's layers merged by internal/rewrite, so whiteouts never reach it.
package output

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/atomicfile"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/rewrite"
)

// The exporter types.
const (
	Local  = "local"
	Tar    = "tar"
	OCI    = "oci"
	Docker = "docker"
)

// Spec is one --output.
type Spec struct {
	Type string
	// Dest is a directory (local) or a file; "-" is standard output.
	Dest string
	// Names are the image's names in an archive (name=), besides -t's.
	Names []string
}

// Stdout is Dest for standard output.
const Stdout = "-"

// Parse reads an --output value as buildx does: comma-separated key=value
// fields (CSV, so a field may be quoted), or a bare path.
func Parse(s string) (Spec, error) {
	if s == "" {
		return Spec{}, errors.New("invalid --output: empty")
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return Spec{}, fmt.Errorf("invalid --output %q: %v", s, err)
	}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		if fields[0] == "" {
			return Spec{}, fmt.Errorf("invalid --output %q: empty path", s)
		}
		if fields[0] == Stdout {
			return Spec{Type: Tar, Dest: Stdout}, nil
		}
		return Spec{Type: Local, Dest: fields[0]}, nil
	}
	var sp Spec
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Spec{}, fmt.Errorf("invalid --output %q: field %q is not key=value", s, f)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			sp.Type = v
		case "dest":
			sp.Dest = v
		case "name":
			sp.Names = append(sp.Names, v)
		default:
			return Spec{}, fmt.Errorf("invalid --output %q: unknown key %q (type, dest, name)", s, k)
		}
	}
	switch sp.Type {
	case Local, Tar, OCI, Docker:
	case "":
		return Spec{}, fmt.Errorf("invalid --output %q: type= is required", s)
	default:
		return Spec{}, fmt.Errorf("invalid --output %q: type %q is not supported (local, tar, oci, docker)", s, sp.Type)
	}
	if sp.Dest == "" {
		return Spec{}, fmt.Errorf("invalid --output %q: dest= is required", s)
	}
	if sp.Type == Local && sp.Dest == Stdout {
		return Spec{}, fmt.Errorf("invalid --output %q: a local output needs a directory (type=tar writes to stdout)", s)
	}
	if sp.Type != Local {
		for _, n := range sp.Names {
			if _, err := image.ParseTagged(n); err != nil {
				return Spec{}, fmt.Errorf("invalid --output %q: name %q: %v", s, n, err)
			}
		}
	}
	return sp, nil
}

// Write writes src as sp says; names are the image's names in an archive
// (-t's, then name='s). stdout receives dest "-".
func Write(ctx context.Context, sp Spec, src image.Source, names []image.Reference, stdout io.Writer) error {
	for _, n := range sp.Names {
		r, err := image.ParseTagged(n)
		if err != nil {
			return err
		}
		names = append(names, r)
	}
	switch sp.Type {
	case Local:
		return writeLocal(ctx, sp.Dest, src)
	case Tar:
		return ToFile(sp.Dest, stdout, func(w io.Writer) error { return WriteRootfs(ctx, w, src) })
	case OCI, Docker:
		f := archive.OCIArchive
		if sp.Type == Docker {
			f = archive.DockerArchive
		}
		return ToFile(sp.Dest, stdout, func(w io.Writer) error {
			return archive.Save(ctx, w, []archive.SaveImage{{Source: src, Names: names}}, f)
		})
	}
	return fmt.Errorf("output type %q is not supported", sp.Type)
}

// WriteRootfs writes the image's root filesystem as one tar: its layers
// merged, the last version of each path, no whiteouts.
func WriteRootfs(ctx context.Context, w io.Writer, src image.Source) error {
	var opens []rewrite.OpenFunc
	for _, l := range src.Layers() {
		opens = append(opens, func() (io.ReadCloser, error) { return rewrite.OpenTar(ctx, src, l) })
	}
	return rewrite.Merge(w, opens, nil)
}

// writeLocal writes the root filesystem into dir (made if missing;
// what it holds already stays unless the image has the same path). As
// with buildx, the files belong to the user who ran the build, not to the
// image's owners.
func writeLocal(ctx context.Context, dir string, src image.Source) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(WriteRootfs(ctx, pw, src)) }()
	_, err := layer.Apply(ctx, dir, pr, layer.ApplyOptions{IgnoreOwner: true})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("output to %s: %w", dir, err)
	}
	return nil
}

// ToFile runs write on stdout for "-", else on a new file renamed to dest
// once complete, so that a failure leaves no half file.
func ToFile(dest string, stdout io.Writer, write func(io.Writer) error) error {
	if dest == Stdout {
		return write(stdout)
	}
	return atomicfile.Write(dest, write)
}
