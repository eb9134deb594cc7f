package container

import "github.com/strata-dev/strata/internal/events"

// event records what happened to a container, with docker's attributes
// (the image as named, the name) and extra key-value pairs. A failure to
// record is not the command's failure.
func (m *Manager) event(r *Record, action string, kv ...string) {
	name := r.Name
	if cur, err := m.Get(r.ID); err == nil {
		name = cur.Name // renamed since r was read (a monitor's record is)
	}
	attrs := map[string]string{"image": r.ImageRef, "name": name}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	m.St.Events().Append(events.Event{Type: "container", Action: action, ID: r.ID, Attributes: attrs})
}
