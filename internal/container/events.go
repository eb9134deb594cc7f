package container

import (
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/events"
	"github.com/strata-dev/strata/internal/metadata"
)

// event records what happened to a container, with docker's attributes
// (the image as named, r's name) and extra key-value pairs. A failure to
// record is not the command's failure.
func (m *Manager) event(r *Record, action string, kv ...string) {
	m.eventNamed(r, r.Name, action, kv...)
}

// eventLater is event for a record read long before (a monitor's, which
// lives as long as its container): the name is read again, as the
// container may have been renamed since. The other events come right
// after the record was read or written, and spare the read (a database
// open: four of them were a tenth of a `run --rm`'s own time).
func (m *Manager) eventLater(r *Record, action string, kv ...string) {
	name := r.Name
	var cur Record
	if m.St.Meta.View(func(tx *metadata.Tx) error { return tx.Get(metadata.BucketContainers, r.ID, &cur) }) == nil && cur.Name != "" {
		name = cur.Name
	}
	m.eventNamed(r, name, action, kv...)
}

func (m *Manager) eventNamed(r *Record, name, action string, kv ...string) {
	attrs := map[string]string{"image": r.ImageRef, "name": name}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	m.St.Events().Append(events.Event{Type: "container", Action: action, ID: r.ID, Attributes: attrs})
}

// execEvents records docker's exec_create and exec_start of a process
// run in the container (exec, a health probe) and returns what records
// its exec_die.
func (m *Manager) execEvents(r *Record, args []string) (died func(code int)) {
	id, cmd := newID(), strings.Join(args, " ")
	m.eventLater(r, "exec_create: "+cmd, "execID", id)
	m.eventLater(r, "exec_start: "+cmd, "execID", id)
	return func(code int) { m.eventLater(r, "exec_die", "execID", id, "exitCode", strconv.Itoa(code)) }
}
