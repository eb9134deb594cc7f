// Package ui is `strata ui`: the store's images, layers, files and
// containers in a browser, served by the strata binary itself. Pages are
// one embedded HTML file, a script and a stylesheet (nothing fetched from
// the internet) over a small JSON API; the API calls the same packages as
// the command line (store, analyze, imagediff, container, registry), never
// a copy of their logic.
//
// Safety: every request carries the per-start token (a cookie set from the
// printed URL's ?token=), so another page or another user on the machine
// cannot read the store through it; requests that change the store must
// also be same-origin POSTs with the token in a header; a read-only server
// refuses them all (see guard.go).
package ui

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/store"
)

//go:embed assets
var assets embed.FS

// Options are what a UI server reads and how it guards itself.
type Options struct {
	Store *store.Store
	// Containers opens the container manager (nil: no containers page).
	Containers func() (*container.Manager, error)
	// Registry makes a registry client whose per-layer progress goes to p,
	// one per pull (nil: no pulls).
	Registry func(p registry.Progress) (*registry.Client, error)
	// Token is the secret every request carries; empty: a random one.
	Token string
	// ReadOnly serves views only: every POST is refused.
	ReadOnly bool
	// Now is the clock of "created ... ago" (nil: time.Now).
	Now func() time.Time
	// AdvisoryDB is the OSV advisory directory the image page matches
	// packages against ("": the default one, when it exists).
	AdvisoryDB string
}

// Server is the UI's http.Handler.
type Server struct {
	o           Options
	mux         *http.ServeMux
	page        *template.Template
	analyses    *analysisCache
	inventories *inventoryCache
	pulls       *pulls
}

// New makes a UI server.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("ui: no store")
	}
	if o.Token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		o.Token = hex.EncodeToString(b)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	page, err := template.ParseFS(assets, "assets/index.html")
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, mux: http.NewServeMux(), page: page, analyses: newAnalysisCache(8), inventories: newInventoryCache(4), pulls: newPulls()}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /api/images", s.listImages)
	s.mux.HandleFunc("GET /api/images/{id}", s.imageDetail)
	s.mux.HandleFunc("GET /api/images/{id}/layers/{n}/tree", s.layerTree)
	s.mux.HandleFunc("GET /api/images/{id}/search", s.searchPaths)
	s.mux.HandleFunc("GET /api/images/{id}/packages", s.imagePackages)
	s.mux.HandleFunc("GET /api/compare", s.compare)
	s.mux.HandleFunc("GET /api/prune", s.prunePreview)
	s.mux.HandleFunc("GET /api/containers", s.listContainers)
	s.mux.HandleFunc("GET /api/containers/{id}/diff", s.containerDiff)
	s.mux.HandleFunc("GET /api/pulls/{id}/events", s.pullEvents)
	s.mux.HandleFunc("POST /api/images/delete", s.deleteImages)
	s.mux.HandleFunc("POST /api/prune", s.prune)
	s.mux.HandleFunc("POST /api/pulls", s.startPull)
	return s, nil
}

// Token is the secret the server's URL carries.
func (s *Server) Token() string { return s.o.Token }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	if !s.guard(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// index is the one page; the script draws each view from the API.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.page.Execute(w, struct {
		Token    string
		ReadOnly bool
	}{s.o.Token, s.o.ReadOnly})
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// apiError is an error as the API answers it: {"error": "..."} with the
// status errdefs gives its kind.
func apiError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errdefs.IsNotFound(err):
		code = http.StatusNotFound
	case errdefs.IsConflict(err):
		code = http.StatusConflict
	case errdefs.IsInvalidArgument(err):
		code = http.StatusBadRequest
	case errdefs.IsUnavailable(err):
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// badRequest answers a malformed request.
func badRequest(w http.ResponseWriter, err error) {
	apiError(w, errdefs.InvalidArgument(err))
}
