package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// npmPackageCataloger reads node_modules/NAME/package.json: an installed
// package.
type npmPackageCataloger struct{}

func (npmPackageCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	data, err := readCapped(size, r, buf)
	if err != nil {
		return nil, nil, err
	}
	var pj struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &pj); err != nil {
		return nil, nil, err
	}
	if pj.Name == "" || pj.Version == "" {
		return nil, nil, nil // a package.json of a directory, not a package
	}
	return []Package{{Name: pj.Name, Version: pj.Version, Ecosystem: Npm}}, nil, nil
}

// npmLockCataloger reads an application's package-lock.json.
type npmLockCataloger struct{}

func (npmLockCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	data, err := readCapped(size, r, buf)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := parsePackageLock(data)
	return pkgs, nil, err
}

type lockDep struct {
	Version      string             `json:"version"`
	Dependencies map[string]lockDep `json:"dependencies"`
}

// parsePackageLock lists the packages of a package-lock.json: lockfile
// version 2 and 3 under "packages" (keyed by node_modules path), version 1
// under nested "dependencies". Links (workspaces) are not packages.
func parsePackageLock(data []byte) ([]Package, error) {
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Link    bool   `json:"link"`
		} `json:"packages"`
		Dependencies map[string]lockDep `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, err
	}
	if lock.LockfileVersion == 0 && lock.Packages == nil && lock.Dependencies == nil {
		return nil, errors.New("not a package-lock.json: no lockfileVersion")
	}
	var pkgs []Package
	if lock.Packages != nil {
		for p, e := range lock.Packages {
			i := strings.LastIndex(p, "node_modules/")
			if i < 0 || e.Link || e.Version == "" {
				continue // "" is the application itself
			}
			n := p[i+len("node_modules/"):]
			if e.Name != "" {
				n = e.Name // an alias: installed under another name
			}
			if n != "" {
				pkgs = append(pkgs, Package{Name: n, Version: e.Version, Ecosystem: Npm})
			}
		}
	} else {
		var walk func(map[string]lockDep, int)
		walk = func(deps map[string]lockDep, depth int) {
			if depth > 64 {
				return
			}
			for n, d := range deps {
				if n != "" && d.Version != "" && !strings.Contains(d.Version, ":") {
					pkgs = append(pkgs, Package{Name: n, Version: d.Version, Ecosystem: Npm})
				}
				walk(d.Dependencies, depth+1)
			}
		}
		walk(lock.Dependencies, 0)
	}
	slices.SortFunc(pkgs, func(a, b Package) int {
		return strings.Compare(a.Name+"@"+a.Version, b.Name+"@"+b.Version)
	})
	return slices.CompactFunc(pkgs, func(a, b Package) bool { return a.Name == b.Name && a.Version == b.Version }), nil
}
