package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/store"
)

// compressionFlags are push's and save's --compression-format and
// --compression-level (podman's names): the compression every layer is
// sent or written in, converting the layers stored otherwise.
type compressionFlags struct {
	format string
	level  int
}

func (f *compressionFlags) add(fs *pflag.FlagSet, what string) {
	fs.StringVar(&f.format, "compression-format", "", `Compression of the layers `+what+`: "gzip" or "zstd" (a layer stored otherwise is converted once and the result kept)`)
	fs.IntVar(&f.level, "compression-level", 0, "Compression level of the layers converted (gzip 1-9, zstd 1-22; default: gzip 6, zstd 3)")
}

// conversion is what the flags ask for; nil when --compression-format is
// not given (layers go as they are stored).
func (f compressionFlags) conversion() (*store.Conversion, error) {
	if f.format == "" {
		if f.level != 0 {
			return nil, fmt.Errorf("--compression-level needs --compression-format")
		}
		return nil, nil
	}
	var c layer.Compression
	switch f.format {
	case "gzip":
		c = layer.Gzip
	case "zstd":
		c = layer.Zstd
	default:
		return nil, fmt.Errorf("invalid --compression-format %q (want gzip or zstd)", f.format)
	}
	if err := layer.CheckLevel(c, f.level); err != nil {
		return nil, fmt.Errorf("--compression-level: %w", err)
	}
	return &store.Conversion{To: c, Level: f.level}, nil
}
