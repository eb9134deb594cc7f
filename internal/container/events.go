package container

import (
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/events"
	"github.com/strata-dev/strata/internal/metadata"
)

// event records what happened to a container, with docker's attributes
// (the image as named, the name) and extra key-value pairs. A failure to
// record is not the command's failure.
func (m *Manager) event(r *Record, action string, kv ...string) {
	name := r.Name
	var cur Record
	if m.St.Meta.View(func(tx *metadata.Tx) error { return tx.Get(metadata.BucketContainers, r.ID, &cur) }) == nil && cur.Name != "" {
		name = cur.Name // renamed since r was read (a monitor's record is)
	}
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
	m.event(r, "exec_create: "+cmd, "execID", id)
	m.event(r, "exec_start: "+cmd, "execID", id)
	return func(code int) { m.event(r, "exec_die", "execID", id, "exitCode", strconv.Itoa(code)) }
}
