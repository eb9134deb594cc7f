package container

import (
	"encoding/json"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// reconcile settles the containers whose monitor is gone (the process
// running them was killed: kill -9 of a foreground run, of a detached
// container's monitor, a crash) while their state says running: the next
// command that opens the containers makes that state true. Whatever of
// the container still runs is killed and deleted from the runtime, the
// exit is recorded (255, as State reports it), its network is detached so
// that no namespace, address or port forward leaks, and a --rm container
// is removed. The monitor lock is held meanwhile, so a container that
// starts now is left alone.
func (m *Manager) reconcile() {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id := e.Name()
		_, attached := os.Lstat(m.networkPath(id))
		if attached != nil && !m.stateSaysRunning(id) {
			continue
		}
		lock, err := m.lockFile(id, "monitor.lock", unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // running, or not ours to judge
		}
		m.settle(id)
		lock.Close()
	}
}

// settle is reconcile's work on one container whose monitor lock is held.
func (m *Manager) settle(id string) {
	if s, ok := m.recordedState(id); ok && s.Status == Running {
		if rt, err := m.runtime(); err == nil {
			rt.Delete(id, true)
		}
		m.setState(id, m.monitorGone(id, s))
	}
	r, err := m.Get(id)
	if err != nil {
		m.detach(&Record{ID: id})
		return
	}
	m.detach(r)
	if r.Config.AutoRemove {
		m.remove(r)
	}
}

// stateSaysRunning tells whether the state file says running (whether or
// not a monitor runs it).
func (m *Manager) stateSaysRunning(id string) bool {
	s, ok := m.recordedState(id)
	return ok && s.Status == Running
}

// recordedState reads the state file as written, without State's check
// of the monitor (which a holder of the monitor lock would fail).
func (m *Manager) recordedState(id string) (State, bool) {
	var s State
	raw, err := os.ReadFile(filepath.Join(m.Dir(id), "state.json"))
	return s, err == nil && json.Unmarshal(raw, &s) == nil
}
