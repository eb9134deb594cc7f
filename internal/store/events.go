package store

import (
	"path/filepath"

	"github.com/strata-dev/strata/internal/events"
)

// Events is the store's events log (ROOT/events/log.json).
func (s *Store) Events() *events.Log {
	return events.Open(filepath.Join(s.Path(Events), "log.json"))
}

// ImageEvent records what happened to an image as docker's daemon does:
// id is the image ID, or the reference for pull and push; name its
// attribute. A failure to record is not the command's failure.
func (s *Store) ImageEvent(action, id, name string) {
	s.Events().Append(events.Event{Type: "image", Action: action, ID: id, Attributes: map[string]string{"name": name}})
}
