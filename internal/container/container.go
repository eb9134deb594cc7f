// Package container keeps containers: a record in the metadata (which
// image, which snapshot, how to run it), a directory of runtime files, and
// the lifecycle create, start, stop, kill, wait, rm; and what can be done
// with a container's filesystem: diff, commit, export, cp.
//
// A container's record is in the containers bucket with an "images" field
// (metadata.Roots), so garbage collection keeps its image and rmi refuses
// to delete it. Its read-write layer is the active snapshot named by its
// ID, over the committed snapshot of its image's top layer.
//
// Runtime state lives in ROOT/containers/ID/: state.json (status, exit
// code), the bundle (config.json, rootfs mount point), hosts, hostname,
// resolv.conf and the log of a detached container. The process that runs
// the runtime (strata run in the foreground, or a detached monitor that
// strata run -d starts) holds monitor.lock while the container runs: a
// container whose state says running but whose lock is free lost its
// monitor (a crash) and is shown as exited.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/flock"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/runtime"
	"github.com/strata-dev/strata/internal/sandbox"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// ErrNoSuchContainer is returned when a name or ID matches no container.
//
//lint:ignore ST1005 docker's words, which scripts match
var ErrNoSuchContainer = errdefs.NotFound(errors.New("No such container"))

// Volume is a bind mount of a host path (-v HOST:CTR[:ro]).
type Volume struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Config is how a container runs: the image's config with the command
// line's options applied.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	OpenStdin  bool     `json:"openStdin,omitempty"`
	Hostname   string   `json:"hostname"`
	Network    string   `json:"network"`
	Volumes    []Volume `json:"volumes,omitempty"`
	// Ports are the published ports (-p, -P), on the bridge only; a port
	// without a host port gets a free one at each start.
	Ports []network.Port `json:"ports,omitempty"`
	// Labels are the image's labels with --label's over them.
	Labels map[string]string `json:"labels,omitempty"`
	// ExposedPorts are docker's "80/tcp" keys: the image's EXPOSE,
	// --expose and the ports -p publishes.
	ExposedPorts []string `json:"exposedPorts,omitempty"`
	AutoRemove   bool     `json:"autoRemove,omitempty"`
	StopSignal   string   `json:"stopSignal,omitempty"`
	// Healthcheck is the image's HEALTHCHECK with --health-* over it
	// (nil: none); the monitor runs it (health.go).
	Healthcheck *image.HealthConfig `json:"healthcheck,omitempty"`
	// Sandbox is how the container is confined and limited (caps,
	// seccomp, --read-only, --memory, --mount...): zero is docker's
	// defaults, which records made before it existed get.
	Sandbox sandbox.Options `json:"sandbox"`
	// DNS is --dns, --dns-search and --dns-option, for its resolv.conf.
	DNS executor.DNS `json:"dns,omitzero"`
	// GroupAdd is --group-add: more groups for its processes (exec's too).
	GroupAdd []string `json:"groupAdd,omitempty"`
}

// Args is the command a container runs: entrypoint then cmd.
func (c *Config) Args() []string { return append(append([]string{}, c.Entrypoint...), c.Cmd...) }

// Record is a container's metadata record.
type Record struct {
	// Images keeps the image alive (metadata.Roots).
	Images   []digest.Digest `json:"images"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Image    digest.Digest   `json:"image"`
	ImageRef string          `json:"imageRef"` // as the user named it
	Created  time.Time       `json:"created"`
	Snapshot string          `json:"snapshot"` // the active snapshot key; a GC root (metadata.Roots)
	Parent   string          `json:"parent"`   // its parent snapshot (the image's top chain ID)
	Driver   string          `json:"driver"`
	Config   Config          `json:"config"`
}

// Status values, as docker names them.
const (
	Created = "created"
	Running = "running"
	Exited  = "exited"
)

// State is what happened to a container since it was made.
type State struct {
	Status     string    `json:"status"`
	ExitCode   int       `json:"exitCode"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	Error      string    `json:"error,omitempty"`
	// Paused says a running container is frozen (pause).
	Paused bool `json:"paused,omitempty"`
}

// Manager does the work of the container commands on one store.
type Manager struct {
	St      *store.Store
	SN      snapshot.Snapshotter
	Runtime *runtime.Runtime
	// RuntimePath is the --runtime flag ("" for runc or crun); the
	// runtime is looked up when first needed, so that ps or rm work
	// without one.
	RuntimePath string
	dir         string
}

// New opens the container manager of a store.
func New(st *store.Store, driver, runtimePath string) (*Manager, error) {
	sn, err := st.Snapshotter(driver)
	if err != nil {
		return nil, err
	}
	dir := st.Path(store.Containers)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	m := &Manager{St: st, SN: sn, RuntimePath: runtimePath, dir: dir}
	m.reconcile()
	return m, nil
}

func (m *Manager) runtime() (*runtime.Runtime, error) {
	if m.Runtime != nil {
		return m.Runtime, nil
	}
	r, err := runtime.Find(m.RuntimePath, m.St.Path(store.RuntimeState))
	if err != nil {
		return nil, err
	}
	r.SeccompCache = m.St.Path(store.SeccompCache)
	m.Runtime = r
	return r, nil
}

// Dir is the container's runtime directory.
func (m *Manager) Dir(id string) string { return filepath.Join(m.dir, id) }

func (m *Manager) bundle(id string) string { return filepath.Join(m.Dir(id), "bundle") }

// Rootfs is where the container's filesystem is mounted while it runs.
func (m *Manager) Rootfs(id string) string { return filepath.Join(m.bundle(id), "rootfs") }

// Get finds a container by full ID, unique ID prefix or name.
func (m *Manager) Get(ref string) (*Record, error) {
	all, err := m.List()
	if err != nil {
		return nil, err
	}
	ref = strings.TrimPrefix(ref, "/")
	for _, r := range all {
		if r.ID == ref || r.Name == ref {
			return r, nil
		}
	}
	var match *Record
	if ref != "" {
		for _, r := range all {
			if strings.HasPrefix(r.ID, ref) {
				if match != nil {
					return nil, fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
				}
				match = r
			}
		}
	}
	if match == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
	}
	return match, nil
}

// List returns every container, newest first.
func (m *Manager) List() ([]*Record, error) {
	var out []*Record
	err := m.St.Meta.View(func(tx *metadata.Tx) error {
		return tx.ForEach(metadata.BucketContainers, func(key string, raw []byte) error {
			var r Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("metadata container %s is damaged: %w", key, err)
			}
			out = append(out, &r)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

// Runs reports whether a container runs (a paused one does), as docker's
// rmi asks before it deletes an image by ID.
func (m *Manager) Runs(id string) bool { return m.State(id).Status == Running }

// RunsWith is Runs on a manager opened at the first question (rmi opens
// none unless a container uses the image); a manager that cannot be
// opened says no container runs.
func RunsWith(open func() (*Manager, error)) func(id string) bool {
	var m *Manager
	return func(id string) bool {
		if m == nil {
			var err error
			if m, err = open(); err != nil {
				return false
			}
		}
		return m.Runs(id)
	}
}

// State returns a container's state. A container whose monitor is gone
// is exited whatever its state file says.
func (m *Manager) State(id string) State {
	s, ok := m.recordedState(id)
	if !ok {
		return State{Status: Created}
	}
	if s.Status == Running && !m.monitored(id) {
		s = m.monitorGone(id, s)
	}
	return s
}

// monitorGone is the state of a container whose monitor is gone while it
// said running: exited, 255 unless a code was recorded.
func (m *Manager) monitorGone(id string, s State) State {
	s.Status = Exited
	if s.Error == "" {
		s.Error = "the process running the container is gone"
	}
	if s.ExitCode == 0 {
		s.ExitCode = 255
	}
	if s.FinishedAt.IsZero() {
		// When it went is unknown (its monitor was killed): say when
		// the state was last written rather than the year 1.
		if fi, err := os.Stat(filepath.Join(m.Dir(id), "state.json")); err == nil {
			s.FinishedAt = fi.ModTime()
		}
	}
	return s
}

func (m *Manager) setState(id string, s State) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	// A temp file of its own: pause writes the state from another
	// process than the monitor.
	tmp, err := os.CreateTemp(m.Dir(id), "state.json.tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(raw)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(m.Dir(id), "state.json"))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// lockFile takes a flock on a file of the container's directory.
func (m *Manager) lockFile(id, name string, how int) (*os.File, error) {
	return flock.Open(filepath.Join(m.Dir(id), name), how)
}

// monitored tells whether a process holds the container's monitor lock.
func (m *Manager) monitored(id string) bool {
	f, err := m.lockFile(id, "monitor.lock", unix.LOCK_SH|unix.LOCK_NB)
	if err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	f.Close()
	return false
}

// Pid is the host's process ID of a running container's first process,
// as its runtime knows it (0 when it is not running or unknown).
func (m *Manager) Pid(r *Record) int {
	if m.State(r.ID).Status != Running {
		return 0
	}
	rt, err := m.runtime()
	if err != nil {
		return 0
	}
	s, err := rt.State(r.ID)
	if err != nil {
		return 0
	}
	return s.Pid
}
