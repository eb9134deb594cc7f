package ui

import (
	"errors"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
)

// ContainerRow is one line of the containers page.
type ContainerRow struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Image    digest.Digest `json:"image"`
	ImageRef string        `json:"imageRef"`
	State    string        `json:"state"`
	ExitCode int           `json:"exitCode"`
	Created  time.Time     `json:"created"`
}

var errNoContainers = errdefs.Unavailable(errors.New("this server has no container manager"))

// manager opens the container manager (answering the error itself when
// there is none).
func (s *Server) manager(w http.ResponseWriter) (*container.Manager, bool) {
	if s.o.Containers == nil {
		apiError(w, errNoContainers)
		return nil, false
	}
	m, err := s.o.Containers()
	if err != nil {
		apiError(w, err)
		return nil, false
	}
	return m, true
}

func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	m, ok := s.manager(w)
	if !ok {
		return
	}
	rs, err := m.List()
	if err != nil {
		apiError(w, err)
		return
	}
	rows := []ContainerRow{}
	for _, c := range rs {
		state := m.State(c.ID)
		rows = append(rows, ContainerRow{ID: c.ID, Name: c.Name, Image: c.Image, ImageRef: c.ImageRef,
			State: state.Status, ExitCode: state.ExitCode, Created: c.Created})
	}
	writeJSON(w, rows)
}

// ContainerChange is one line of `strata diff CONTAINER`.
type ContainerChange struct {
	Kind string `json:"kind"` // A, C or D
	Path string `json:"path"`
}

func (s *Server) containerDiff(w http.ResponseWriter, r *http.Request) {
	m, ok := s.manager(w)
	if !ok {
		return
	}
	c, err := m.Get(r.PathValue("id"))
	if err != nil {
		apiError(w, err)
		return
	}
	cs, err := m.Diff(c)
	if err != nil {
		apiError(w, err)
		return
	}
	out := []ContainerChange{}
	for _, ch := range cs {
		out = append(out, ContainerChange{Kind: ch.Kind.String(), Path: ch.Path})
	}
	writeJSON(w, out)
}
