package sbom

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// pythonCataloger reads an installed distribution's METADATA (dist-info)
// or PKG-INFO (egg-info): only its headers, which end at the first blank
// line, so that a huge description costs nothing.
type pythonCataloger struct{}

// maxHeaders caps what is read of a METADATA file's headers.
const maxHeaders = 1 << 20

func (pythonCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	p, err := parsePythonMetadata(io.LimitReader(r, maxHeaders))
	if err != nil {
		return nil, nil, err
	}
	return []Package{p}, nil, nil
}

// parsePythonMetadata reads the Name and Version headers of a core
// metadata file.
func parsePythonMetadata(r io.Reader) (Package, error) {
	p := Package{Ecosystem: PyPI}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxHeaders)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Name":
			p.Name = strings.TrimSpace(v)
		case "Version":
			p.Version = strings.TrimSpace(v)
		}
		if p.Name != "" && p.Version != "" {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return p, err
	}
	return p, errors.New("no Name and Version headers")
}
