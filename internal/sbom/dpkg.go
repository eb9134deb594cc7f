package sbom

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

// dpkgCataloger reads dpkg's status database, or one file of the
// status.d directory distroless images have instead.
type dpkgCataloger struct{}

func (dpkgCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	data, err := readCapped(size, r, buf)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := parseDpkgStatus(data)
	return pkgs, nil, err
}

// parseDpkgStatus lists the installed packages of a dpkg status file. A
// paragraph without Status (status.d) counts as installed; one whose
// Status is not "... installed" (config-files, half-installed) does not.
func parseDpkgStatus(data []byte) ([]Package, error) {
	var pkgs []Package
	var p Package
	status := ""
	paragraphs(data, ":", func(k, v string) {
		switch k {
		case "Package":
			p.Name = v
		case "Version":
			p.Version = v
		case "Architecture":
			p.Arch = v
		case "Status":
			status = v
		case "Source":
			// "Source: name (version)" when the versions differ.
			p.Source = v
			if n, ver, ok := strings.Cut(v, " ("); ok {
				p.Source, p.SourceVersion = n, strings.TrimSuffix(ver, ")")
			}
		}
	}, func() {
		if p.Name != "" && p.Version != "" && (status == "" || strings.HasSuffix(status, " installed")) {
			p.Ecosystem = Debian
			if p.Source != "" && p.SourceVersion == "" {
				p.SourceVersion = p.Version
			}
			pkgs = append(pkgs, p)
		}
		p, status = Package{}, ""
	})
	if len(pkgs) == 0 && len(bytes.TrimSpace(data)) > 0 && !bytes.Contains(data, []byte("Package:")) {
		return nil, errors.New("not a dpkg status file: no Package field")
	}
	return pkgs, nil
}
