package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/analyze"
	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagediff"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// ImageRow is one line of the images page: one per name of an image (an
// unnamed one as <none>), its sizes as `system df -v` counts them.
type ImageRow struct {
	ID         digest.Digest `json:"id"`
	Repository string        `json:"repository"`
	Tag        string        `json:"tag"`
	// Ref is what deleting the row removes: the name, or the ID of an
	// unnamed image.
	Ref        string    `json:"ref"`
	Created    time.Time `json:"created"`
	Size       int64     `json:"size"`
	Shared     int64     `json:"shared"`
	Unique     int64     `json:"unique"`
	Containers []string  `json:"containers"` // names of the containers using it
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	rows, err := s.imageRows()
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, rows)
}

func (s *Server) imageRows() ([]ImageRow, error) {
	st := s.o.Store
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	names, err := st.Names()
	if err != nil {
		return nil, err
	}
	du, err := st.DiskUsage()
	if err != nil {
		return nil, err
	}
	users := s.containerNamesByImage()
	rows := []ImageRow{}
	for _, im := range imgs {
		u := du.PerImage[im.ID]
		base := ImageRow{ID: im.ID, Repository: "<none>", Tag: "<none>", Ref: im.ID.String(), Created: im.Created,
			Size: u.Size, Shared: u.Shared, Unique: u.Unique, Containers: users[im.ID]}
		if base.Containers == nil {
			base.Containers = []string{}
		}
		named := false
		for _, n := range names[im.ID] {
			ref, err := image.ParseReference(n)
			if err != nil {
				continue
			}
			row := base
			row.Repository, row.Tag, row.Ref = ref.FamiliarRepository(), ref.Tag(), ref.Familiar()
			rows = append(rows, row)
			named = true
		}
		if !named {
			rows = append(rows, base)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
	return rows, nil
}

// containerNamesByImage names the containers using each image (none when
// there is no container manager).
func (s *Server) containerNamesByImage() map[digest.Digest][]string {
	out := map[digest.Digest][]string{}
	if s.o.Containers == nil {
		return out
	}
	m, err := s.o.Containers()
	if err != nil {
		return out
	}
	rs, err := m.List()
	if err != nil {
		return out
	}
	for _, c := range rs {
		out[c.Image] = append(out[c.Image], c.Name)
	}
	return out
}

// ImageDetail is the image page: names, config, the analysis and, per
// layer, the other images that share it.
type ImageDetail struct {
	ID        digest.Digest    `json:"id"`
	Names     []string         `json:"names"`
	Created   time.Time        `json:"created"`
	Config    any              `json:"config"`
	Platform  string           `json:"platform"`
	Platforms []IndexPlatforms `json:"platforms"` // the multi-platform images it belongs to
	Analysis  *analyze.Result  `json:"analysis"`
	// SharedWith lists, per layer, the other images (a name or ID) using
	// the same layer.
	SharedWith [][]string `json:"sharedWith"`
}

// IndexPlatforms is a multi-platform image holding this one.
type IndexPlatforms struct {
	Digest    digest.Digest `json:"digest"`
	Names     []string      `json:"names"`
	Platforms []string      `json:"platforms"`
}

// fullAnalysis resolves the request's {id} and analyses every layer of it
// (answering the error itself when it fails).
func (s *Server) fullAnalysis(w http.ResponseWriter, r *http.Request) (*metadata.Image, *analyze.Result, bool) {
	im, err := s.o.Store.Resolve(r.PathValue("id"))
	if err != nil {
		apiError(w, err)
		return nil, nil, false
	}
	res, err := s.analyses.get(r.Context(), s.o.Store, im.ID, -1)
	if err != nil {
		apiError(w, err)
		return nil, nil, false
	}
	return im, res, true
}

func (s *Server) imageDetail(w http.ResponseWriter, r *http.Request) {
	st := s.o.Store
	im, res, ok := s.fullAnalysis(w, r)
	if !ok {
		return
	}
	imgs, err := st.Images()
	if err != nil {
		apiError(w, err)
		return
	}
	names, err := st.Names()
	if err != nil {
		apiError(w, err)
		return
	}
	d := ImageDetail{ID: im.ID, Names: names[im.ID], Created: im.Created, Analysis: res, Platforms: []IndexPlatforms{}}
	if d.Names == nil {
		d.Names = []string{}
	}
	src, err := st.ImageSource(im, im.ID.String())
	if err != nil {
		apiError(w, err)
		return
	}
	cfg := src.Config().File
	src.Close()
	d.Config = cfg.Config
	d.Platform = cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		d.Platform += "/" + cfg.Variant
	}
	for _, l := range im.Layers {
		d.SharedWith = append(d.SharedWith, sharers(l.Digest, im.ID, imgs, names))
	}
	ixs, err := st.Indexes()
	if err != nil {
		apiError(w, err)
		return
	}
	for _, ix := range ixs {
		mine := false
		var ps []string
		for _, e := range ix.Entries {
			mine = mine || e.Image == im.ID
			p := e.Platform.OS + "/" + e.Platform.Architecture
			if e.Platform.Variant != "" {
				p += "/" + e.Platform.Variant
			}
			ps = append(ps, p)
		}
		if mine {
			d.Platforms = append(d.Platforms, IndexPlatforms{Digest: ix.Digest, Names: names[ix.Digest], Platforms: ps})
		}
	}
	writeJSON(w, d)
}

// sharers are the images other than self that have layer blob l.
func sharers(l, self digest.Digest, imgs []*metadata.Image, names map[digest.Digest][]string) []string {
	out := []string{}
	for _, im := range imgs {
		if im.ID == self {
			continue
		}
		for _, ol := range im.Layers {
			if ol.Digest == l {
				out = append(out, displayName(im.ID, names))
				break
			}
		}
	}
	return out
}

// displayName is an image's first name, else its short ID.
func displayName(id digest.Digest, names map[digest.Digest][]string) string {
	if ns := names[id]; len(ns) > 0 {
		if r, err := image.ParseReference(ns[0]); err == nil {
			return r.Familiar()
		}
		return ns[0]
	}
	return analyze.Short(id.Encoded())
}

// TreeListing is one directory of a layer's tree.
type TreeListing struct {
	Layer   int                `json:"layer"`
	Dir     string             `json:"dir"`
	View    string             `json:"view"` // "layer": what the layer changed; "image": the merged view up to it
	Entries []analyze.DirEntry `json:"entries"`
}

// layerTree lists one directory (?dir=, default /) of layer n: what the
// layer changed (?view=layer, the default) or the image as it is after it
// (?view=image), as dive shows them.
func (s *Server) layerTree(w http.ResponseWriter, r *http.Request) {
	st := s.o.Store
	im, err := st.Resolve(r.PathValue("id"))
	if err != nil {
		apiError(w, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(im.Layers) {
		badRequest(w, fmt.Errorf("layer %q: the image has %d layers (0 to %d)", r.PathValue("n"), len(im.Layers), len(im.Layers)-1))
		return
	}
	view, mode := r.URL.Query().Get("view"), analyze.TreeLayer
	switch view {
	case "", "layer":
		view = "layer"
	case "image":
		mode = analyze.TreeImage
	default:
		badRequest(w, fmt.Errorf("view %q: want layer or image", view))
		return
	}
	upTo := n
	if n == len(im.Layers)-1 {
		upTo = -1 // the full analysis, which the image page made already
	}
	res, err := s.analyses.get(r.Context(), st, im.ID, upTo)
	if err != nil {
		apiError(w, err)
		return
	}
	dir := r.URL.Query().Get("dir")
	if dir == "" {
		dir = "/"
	}
	entries, err := res.Dir(dir, mode)
	if err != nil {
		apiError(w, errdefs.NotFound(err))
		return
	}
	writeJSON(w, TreeListing{Layer: n, Dir: dir, View: view, Entries: entries})
}

// PathHit is a path a layer changed, found by a search.
type PathHit struct {
	Layer int `json:"layer"`
	analyze.Change
}

// maxHits bounds a search's answer: a browser has no use for more.
const maxHits = 500

// searchPaths finds ?q= (a substring) in the paths every layer changed.
func (s *Server) searchPaths(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if q == "" {
		badRequest(w, errors.New("search: no ?q="))
		return
	}
	_, res, ok := s.fullAnalysis(w, r)
	if !ok {
		return
	}
	hits := []PathHit{}
	for _, l := range res.Layers {
		for _, c := range l.Changes {
			if strings.Contains(c.Path, q) && len(hits) < maxHits {
				hits = append(hits, PathHit{Layer: l.Index, Change: c})
			}
		}
	}
	writeJSON(w, hits)
}

// compare is `strata image diff A B`: ?a= and ?b=, names or IDs.
func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	st := s.o.Store
	a, b := r.URL.Query().Get("a"), r.URL.Query().Get("b")
	if a == "" || b == "" {
		badRequest(w, errors.New("compare: want ?a=IMAGE&b=IMAGE"))
		return
	}
	srcA, err := st.Source(a)
	if err != nil {
		apiError(w, err)
		return
	}
	defer srcA.Close()
	srcB, err := st.Source(b)
	if err != nil {
		apiError(w, err)
		return
	}
	defer srcB.Close()
	res, err := imagediff.Compare(r.Context(), srcA, srcB)
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, res)
}

// DeleteRequest is the body of POST /api/images/delete.
type DeleteRequest struct {
	Refs  []string `json:"refs"`
	Force bool     `json:"force"`
}

// DeleteResult is what removing one ref did, in docker's words, or why it
// was refused (docker's message).
type DeleteResult struct {
	Ref      string   `json:"ref"`
	Untagged []string `json:"untagged"`
	Deleted  []string `json:"deleted"`
	Error    string   `json:"error,omitempty"`
}

// deleteImages is `strata rmi [--force] REF...`: each ref on its own, then
// one garbage collection.
func (s *Server) deleteImages(w http.ResponseWriter, r *http.Request) {
	var req DeleteRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || len(req.Refs) == 0 {
		badRequest(w, errors.New("delete: want {\"refs\": [IMAGE...]}"))
		return
	}
	st := s.o.Store
	o := store.RemoveOptions{Force: req.Force}
	if s.o.Containers != nil {
		o.Running = container.RunsWith(s.o.Containers)
	}
	out := []DeleteResult{}
	for _, ref := range req.Refs {
		res := DeleteResult{Ref: ref, Untagged: []string{}, Deleted: []string{}}
		rm, err := st.RemoveWith(ref, o)
		if err != nil {
			res.Error = err.Error()
		}
		res.Untagged = append(res.Untagged, rm.Untagged...)
		for _, d := range rm.Deleted {
			res.Deleted = append(res.Deleted, d.String())
		}
		out = append(out, res)
	}
	if _, err := st.GC(false); err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, out)
}

// PruneAnswer is a prune's preview, or what it removed.
type PruneAnswer struct {
	All    bool                `json:"all"`
	Images []store.PrunedImage `json:"images"`
	// Bytes is what the preview expects to come back, or what did.
	Bytes int64 `json:"bytes"`
}

func pruneAll(r *http.Request) bool { return r.URL.Query().Get("all") == "1" }

// prunePreview is GET /api/prune[?all=1]: what prune would remove.
func (s *Server) prunePreview(w http.ResponseWriter, r *http.Request) {
	pv, err := s.o.Store.PreviewPrune(store.PruneOptions{All: pruneAll(r)})
	if err != nil {
		apiError(w, err)
		return
	}
	if pv.Images == nil {
		pv.Images = []store.PrunedImage{}
	}
	writeJSON(w, PruneAnswer{All: pruneAll(r), Images: pv.Images, Bytes: pv.Bytes})
}

// prune is POST /api/prune[?all=1]: `strata image prune [-a] -f`.
func (s *Server) prune(w http.ResponseWriter, r *http.Request) {
	res, err := s.o.Store.Prune(store.PruneOptions{All: pruneAll(r)})
	if err != nil {
		apiError(w, err)
		return
	}
	ans := PruneAnswer{All: pruneAll(r), Images: []store.PrunedImage{}, Bytes: res.GC.Bytes}
	for _, rm := range res.Removals {
		if len(rm.Deleted) > 0 {
			ans.Images = append(ans.Images, store.PrunedImage{ID: rm.Deleted[0], Names: rm.Untagged})
		}
	}
	writeJSON(w, ans)
}
