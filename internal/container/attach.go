//lint:file-ignore ST1005 docker's words, which scripts match

package container

import (
	"context"
	"errors"
	"time"
)

// Attach streams what a running container writes from now on (its log,
// which the monitor writes) to emit until the container exits or ctx
// ends, and returns its exit code (-1 when ctx ended first). A detached
// container's stdin is not kept open, so only output is attached.
func (m *Manager) Attach(ctx context.Context, r *Record, emit func(LogEntry) error) (int, error) {
	if m.State(r.ID).Status != Running {
		return 0, errors.New("You cannot attach to a stopped container, start it first")
	}
	m.event(r, "attach")
	if err := m.Logs(ctx, r, LogOptions{Follow: true, Tail: 0, Since: time.Now()}, emit); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return -1, nil
	}
	return m.Wait(r)
}
