package sbom

import "strings"

// stack applies layers in order and keeps, for each catalogued path, the
// packages the final filesystem has there, and every package ever found.
type stack struct {
	live  map[string][]int // path -> indexes in found of its live packages
	found []Package
}

func newStack() *stack { return &stack{live: map[string][]int{}} }

// apply adds layer i: its whiteouts and opaque directories delete lower
// paths first (they apply to the layers below only), then each path it
// wrote replaces the lower copy, keeping a package whose version did not
// change as the lower layer's.
func (s *stack) apply(i int, lf *layerFiles) {
	for p := range s.live {
		if hidden(p, lf) {
			s.remove(p, i, nil)
		}
	}
	for p, pkgs := range lf.pkgs {
		kept := s.remove(p, i, pkgs)
		for _, np := range pkgs {
			if k, ok := kept[key(&np)]; ok {
				s.live[p] = append(s.live[p], k)
				continue
			}
			np.Layer, np.RemovedIn = i, -1
			s.found = append(s.found, np)
			s.live[p] = append(s.live[p], len(s.found)-1)
		}
	}
	for p := range s.live {
		if lf.wrote(p) {
			if _, catalogued := lf.pkgs[p]; !catalogued {
				s.remove(p, i, nil) // overwritten by a file with no packages
			}
		}
	}
}

// hidden reports whether layer lf deletes lower path p.
func hidden(p string, lf *layerFiles) bool {
	for _, w := range lf.whiteouts {
		if p == w || strings.HasPrefix(p, w+"/") {
			return true
		}
	}
	for _, o := range lf.opaques {
		if o == "" || strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}

// remove ends the live packages of path p in layer i, except those with
// the same identity and version in next (the new content of p), which it
// returns by identity.
func (s *stack) remove(p string, i int, next []Package) map[string]int {
	kept := map[string]int{}
	same := map[string]bool{}
	newer := map[string]string{}
	for k := range next {
		same[key(&next[k])] = true
		newer[ident(&next[k])] = next[k].Version
	}
	for _, fi := range s.live[p] {
		old := &s.found[fi]
		if same[key(old)] {
			kept[key(old)] = fi
			continue
		}
		old.ReplacedBy = newer[ident(old)] // "" when deleted
		old.RemovedIn = i
	}
	delete(s.live, p)
	return kept
}

// ident names a package within one file; key adds its version.
func ident(p *Package) string { return p.Ecosystem + "\x00" + p.Name + "\x00" + p.Arch }
func key(p *Package) string   { return ident(p) + "\x00" + p.Version }

// all returns every package found, sorted.
func (s *stack) all() []Package {
	out := append([]Package(nil), s.found...)
	sortPackages(out)
	return out
}
