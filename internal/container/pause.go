//lint:file-ignore ST1005 docker's words, which scripts match

package container

import (
	"fmt"
	"time"
)

// Pause freezes a running container's processes (the runtime's pause:
// the cgroup freezer). The state says so until Unpause or the exit.
func (m *Manager) Pause(r *Record) error {
	s := m.State(r.ID)
	switch {
	case s.Status != Running:
		return fmt.Errorf("Container %s is not running", r.ID)
	case s.Paused:
		return fmt.Errorf("Container %s is already paused", r.ID)
	}
	rt, err := m.runtime()
	if err != nil {
		return err
	}
	if err := rt.Pause(r.ID); err != nil {
		return err
	}
	if err := m.setPaused(r.ID, true); err != nil {
		return err
	}
	m.event(r, "pause")
	return nil
}

// Unpause thaws a paused container.
func (m *Manager) Unpause(r *Record) error {
	if s := m.State(r.ID); s.Status != Running || !s.Paused {
		return fmt.Errorf("Container %s is not paused", r.ID)
	}
	if err := m.resume(r); err != nil {
		return err
	}
	m.event(r, "unpause")
	return nil
}

// resume thaws the container and records it.
func (m *Manager) resume(r *Record) error {
	rt, err := m.runtime()
	if err != nil {
		return err
	}
	if err := rt.Resume(r.ID); err != nil {
		return err
	}
	return m.setPaused(r.ID, false)
}

// setPaused records in the state whether the container is frozen. The
// monitor writes the state only when the container starts and exits, and
// an exit clears the mark.
func (m *Manager) setPaused(id string, paused bool) error {
	s, ok := m.recordedState(id)
	if !ok || s.Status != Running {
		return nil
	}
	s.Paused = paused
	return m.setState(id, s)
}

// Restart stops the container (as Stop, with sig instead of its stop
// signal when given) and starts it again detached, as docker restart does.
func (m *Manager) Restart(r *Record, sig string, timeout time.Duration, self string, args []string) error {
	if err := m.Stop(r, sig, timeout); err != nil {
		return err
	}
	if err := m.StartDetached(r, self, args); err != nil {
		return err
	}
	m.event(r, "restart")
	return nil
}
