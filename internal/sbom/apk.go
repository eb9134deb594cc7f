package sbom

import (
	"bytes"
	"errors"
	"io"
)

// apkCataloger reads Alpine's installed database (lib/apk/db/installed).
type apkCataloger struct{}

func (apkCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	data, err := readCapped(size, r, buf)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := parseApkInstalled(data)
	return pkgs, nil, err
}

// parseApkInstalled lists the packages of an apk installed database: one
// paragraph per package, one-letter keys (P name, V version, A arch, o
// origin, the source package Alpine's advisories are keyed by).
func parseApkInstalled(data []byte) ([]Package, error) {
	var pkgs []Package
	var p Package
	fields := 0
	paragraphs(data, ":", func(k, v string) {
		fields++
		switch k {
		case "P":
			p.Name = v
		case "V":
			p.Version = v
		case "A":
			p.Arch = v
		case "o":
			p.Source = v
		}
	}, func() {
		if p.Name != "" && p.Version != "" {
			p.Ecosystem = Alpine
			if p.Source != "" {
				p.SourceVersion = p.Version
			}
			pkgs = append(pkgs, p)
		}
		p = Package{}
	})
	if len(pkgs) == 0 && len(bytes.TrimSpace(data)) > 0 {
		return nil, errors.New("not an apk installed database: no P: and V: fields")
	}
	return pkgs, nil
}
