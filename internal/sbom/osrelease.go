package sbom

import (
	"bytes"
	"io"
	"strconv"
	"strings"
)

// osReleaseCataloger reads os-release for the distro, which names the
// OS packages' purls and the advisories' ecosystem release.
type osReleaseCataloger struct{}

func (osReleaseCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	data, err := readCapped(min(size, 64<<10), io.LimitReader(r, 64<<10), buf)
	if err != nil {
		return nil, nil, err
	}
	d := parseOSRelease(data)
	if d.ID == "" {
		return nil, nil, nil
	}
	return nil, &d, nil
}

// parseOSRelease reads the ID, VERSION_ID and PRETTY_NAME of an os-release
// file (shell-like KEY=value lines, values maybe quoted).
func parseOSRelease(data []byte) Distro {
	var d Distro
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `'"`)
		}
		switch k {
		case "ID":
			d.ID = v
		case "VERSION_ID":
			d.VersionID = v
		case "PRETTY_NAME":
			d.PrettyName = v
		}
	}
	return d
}
