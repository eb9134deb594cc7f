package ui

import (
	"errors"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

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

func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	if s.o.Containers == nil {
		apiError(w, errNoContainers)
		return
	}
	m, err := s.o.Containers()
	if err != nil {
		apiError(w, err)
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
	if s.o.Containers == nil {
		apiError(w, errNoContainers)
		return
	}
	m, err := s.o.Containers()
	if err != nil {
		apiError(w, err)
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
