package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
)

// PullEvent is one server-sent event of a pull: a layer's change of state
// or bytes, then "done" (with the image) or "error".
type PullEvent struct {
	Type    string `json:"type"` // status, bytes, done, error
	Layer   string `json:"layer,omitempty"`
	Status  string `json:"status,omitempty"`
	Current int64  `json:"current,omitempty"`
	Total   int64  `json:"total,omitempty"`
	Ref     string `json:"ref,omitempty"`
	Image   string `json:"image,omitempty"`
	Error   string `json:"error,omitempty"`
}

// pullJob is one pull's events so far; a client that connects late (or
// again) is sent them all, then the rest as they come.
type pullJob struct {
	mu      sync.Mutex
	events  []PullEvent
	ended   bool
	changed chan struct{} // closed and replaced at each new event
	lastAt  map[string]time.Time
}

func (j *pullJob) add(e PullEvent) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e.Type == "bytes" && e.Current < e.Total {
		// Bytes come per read: a tenth of a second apart is enough.
		if time.Since(j.lastAt[e.Layer]) < 100*time.Millisecond {
			return
		}
		j.lastAt[e.Layer] = time.Now()
	}
	j.events = append(j.events, e)
	j.ended = j.ended || e.Type == "done" || e.Type == "error"
	close(j.changed)
	j.changed = make(chan struct{})
}

// since returns the events from i on, whether the pull has ended, and a
// channel closed at the next event.
func (j *pullJob) since(i int) ([]PullEvent, bool, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.events[i:], j.ended, j.changed
}

// Status and Bytes make a job the registry client's Progress.
func (j *pullJob) Status(id, status string) {
	j.add(PullEvent{Type: "status", Layer: id, Status: status})
}

func (j *pullJob) Bytes(id, action string, current, total int64) {
	j.add(PullEvent{Type: "bytes", Layer: id, Status: action, Current: current, Total: total})
}

// pulls are the server's pull jobs by number.
type pulls struct {
	mu   sync.Mutex
	next int
	jobs map[string]*pullJob
}

func newPulls() *pulls { return &pulls{jobs: map[string]*pullJob{}} }

func (p *pulls) add() (string, *pullJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	id := strconv.Itoa(p.next)
	j := &pullJob{changed: make(chan struct{}), lastAt: map[string]time.Time{}}
	p.jobs[id] = j
	return id, j
}

func (p *pulls) get(id string) *pullJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jobs[id]
}

// PullRequest is the body of POST /api/pulls.
type PullRequest struct {
	Ref string `json:"ref"`
}

// startPull starts `strata pull REF` (this machine's platform) and answers
// {"id": N}; GET /api/pulls/N/events streams its progress.
func (s *Server) startPull(w http.ResponseWriter, r *http.Request) {
	if s.o.Registry == nil {
		apiError(w, errdefs.Unavailable(errors.New("this server pulls nothing")))
		return
	}
	var req PullRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.Ref == "" {
		badRequest(w, errors.New("pull: want {\"ref\": \"NAME[:TAG|@DIGEST]\"}"))
		return
	}
	if _, err := image.ParseReference(req.Ref); err != nil {
		badRequest(w, err)
		return
	}
	id, job := s.pulls.add()
	cl, err := s.o.Registry(job)
	if err != nil {
		apiError(w, err)
		return
	}
	go func() {
		// The pull outlives the request that started it.
		res, err := cl.Pull(context.Background(), s.o.Store, req.Ref, image.HostPlatform())
		if err != nil {
			job.add(PullEvent{Type: "error", Error: err.Error()})
			return
		}
		job.add(PullEvent{Type: "done", Ref: res.Ref.Familiar(), Image: res.Image.ID.String()})
	}()
	writeJSON(w, map[string]string{"id": id})
}

// pullEvents streams a pull's events as server-sent events.
func (s *Server) pullEvents(w http.ResponseWriter, r *http.Request) {
	job := s.pulls.get(r.PathValue("id"))
	if job == nil {
		apiError(w, errdefs.NotFound(fmt.Errorf("no pull %s", r.PathValue("id"))))
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		apiError(w, errors.New("streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	sent := 0
	for {
		evs, ended, changed := job.since(sent)
		for _, e := range evs {
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		sent += len(evs)
		fl.Flush()
		if ended {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}
