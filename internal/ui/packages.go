package ui

import (
	"net/http"

	"github.com/strata-dev/strata/internal/sbom"
	"github.com/strata-dev/strata/internal/vuln"
)

// ImagePackages is the image page's packages section: the packages each
// layer adds and, when an advisory database exists, the findings of the
// packages each layer ships (as strata sbom and strata scan list them).
type ImagePackages struct {
	Layers []LayerPackages `json:"layers"`
	// DB is the advisory database read; "" when there is none, and no
	// findings.
	DB       string   `json:"db"`
	Warnings []string `json:"warnings"`
}

// LayerPackages is one layer's part of ImagePackages.
type LayerPackages struct {
	Index    int            `json:"index"`
	Packages []sbom.Package `json:"packages"`
	Findings []vuln.Finding `json:"findings"`
}

func (s *Server) imagePackages(w http.ResponseWriter, r *http.Request) {
	im, err := s.o.Store.Resolve(r.PathValue("id"))
	if err != nil {
		apiError(w, err)
		return
	}
	p, err := s.inventories.get(r.Context(), s.o.Store, im.ID, vuln.DirOrDefault(s.o.AdvisoryDB))
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, p)
}
