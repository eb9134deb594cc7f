package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/image"
)

// Health statuses, as docker names them.
const (
	Starting  = "starting"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// docker's defaults for what a HEALTHCHECK leaves out, and what it keeps.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	healthLogEntries      = 5
	healthOutputMax       = 4096
)

// Health is a container's health as docker's inspect shows it
// (State.Health): the monitor of a container with a health check writes
// it to health.json in the container's directory after each probe.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one probe's result.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// HealthOptions are run's and create's --health-* flags (zero: the
// image's HEALTHCHECK field stays).
type HealthOptions struct {
	Cmd         string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
	None        bool // --no-healthcheck
}

// healthConfig is the image's HEALTHCHECK with the flags over it, checked
// as docker checks them.
func healthConfig(img *image.HealthConfig, o HealthOptions) (*image.HealthConfig, error) {
	flags := o.Cmd != "" || o.Interval != 0 || o.Timeout != 0 || o.StartPeriod != 0 || o.Retries != 0
	if o.None {
		if flags {
			return nil, usage("--no-healthcheck conflicts with --health-* options")
		}
		return &image.HealthConfig{Test: []string{"NONE"}}, nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", o.Interval}, {"timeout", o.Timeout}, {"start-period", o.StartPeriod}} {
		if d.v < 0 {
			return nil, usage("--health-%s cannot be negative", d.name)
		}
	}
	if o.Retries < 0 {
		return nil, usage("--health-retries cannot be negative")
	}
	if img == nil && !flags {
		return nil, nil
	}
	h := image.HealthConfig{}
	if img != nil {
		h = *img
	}
	if o.Cmd != "" {
		h.Test = []string{"CMD-SHELL", o.Cmd}
	}
	if o.Interval != 0 {
		h.Interval = o.Interval
	}
	if o.Timeout != 0 {
		h.Timeout = o.Timeout
	}
	if o.StartPeriod != 0 {
		h.StartPeriod = o.StartPeriod
	}
	if o.Retries != 0 {
		h.Retries = o.Retries
	}
	return &h, nil
}

// healthArgs is the probe's command, nil when there is none to run.
func healthArgs(h *image.HealthConfig) []string {
	if h == nil || len(h.Test) == 0 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		if len(h.Test) > 1 {
			return h.Test[1:]
		}
	case "CMD-SHELL":
		if len(h.Test) > 1 {
			return []string{"/bin/sh", "-c", h.Test[1]}
		}
	}
	return nil // NONE, or nothing to run
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (m *Manager) healthPath(id string) string { return filepath.Join(m.Dir(id), "health.json") }

// Health is the container's health, nil when it has no health check.
func (m *Manager) Health(r *Record) *Health {
	if healthArgs(r.Config.Healthcheck) == nil {
		return nil
	}
	raw, err := os.ReadFile(m.healthPath(r.ID))
	var h Health
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return &Health{Status: Starting, Log: []HealthResult{}}
	}
	return &h
}

func (m *Manager) writeHealth(id string, h *Health) error {
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp := m.healthPath(id) + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, m.healthPath(id))
}

// prober runs one health probe.
type prober func(ctx context.Context) HealthResult

// record is docker's handling of a probe's result: a success is healthy
// and ends the failing streak; a failure counts (unless the container
// never was healthy and is within its start period) and makes it
// unhealthy at retries in a row. It reports whether the status changed.
func (h *Health) record(res HealthResult, started time.Time, hc *image.HealthConfig) bool {
	before := h.Status
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = Healthy
	} else if h.Status != Starting || res.Start.Sub(started) >= hc.StartPeriod {
		h.FailingStreak++
		retries := hc.Retries
		if retries <= 0 {
			retries = defaultHealthRetries
		}
		if h.FailingStreak >= retries {
			h.Status = Unhealthy
		}
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogEntries {
		h.Log = h.Log[len(h.Log)-healthLogEntries:]
	}
	return h.Status != before
}

// startHealth starts the health runner of a container that has a health
// check, in the monitor: a probe every interval, the first one interval
// after the start, as docker's. The returned function stops it.
func (m *Manager) startHealth(r *Record) (stop func()) {
	hc := r.Config.Healthcheck
	args := healthArgs(hc)
	if args == nil {
		return func() {}
	}
	probe := func(ctx context.Context) HealthResult { return m.probe(ctx, r, args) }
	return m.runHealth(r, hc, time.Now(), probe)
}

func (m *Manager) runHealth(r *Record, hc *image.HealthConfig, started time.Time, probe prober) (stop func()) {
	h := &Health{Status: Starting, Log: []HealthResult{}}
	m.writeHealth(r.ID, h)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		interval := orDefault(hc.Interval, defaultHealthInterval)
		timeout := orDefault(hc.Timeout, defaultHealthTimeout)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
			pctx, pcancel := context.WithTimeout(ctx, timeout)
			res := probe(pctx)
			expired := errors.Is(pctx.Err(), context.DeadlineExceeded)
			pcancel()
			if ctx.Err() != nil {
				return // stopped while probing: the container is gone
			}
			if expired {
				res.ExitCode, res.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
			}
			if h.record(res, started, hc) {
				m.eventLater(r, "health_status: "+h.Status)
			}
			m.writeHealth(r.ID, h)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// probe runs the health check's command in the container, as exec would,
// and keeps the start of its output.
func (m *Manager) probe(ctx context.Context, r *Record, args []string) HealthResult {
	res := HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	var out limitedBuffer
	err := func() error {
		ex, err := m.executor()
		if err != nil {
			return err
		}
		p, err := m.execProcess(r, ExecOptions{Args: args})
		if err != nil {
			return err
		}
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return err
		}
		defer devnull.Close()
		died := m.execEvents(r, p.Args)
		res.ExitCode, err = ex.ExecContext(ctx, r.ID, m.bundle(r.ID), p, Stdio{Stdin: devnull, Stdout: &out, Stderr: &out})
		if err == nil {
			died(res.ExitCode)
		}
		return err
	}()
	res.End = time.Now().UTC()
	res.Output = out.String()
	if err != nil && ctx.Err() == nil {
		res.ExitCode, res.Output = -1, err.Error()
	}
	return res
}

// limitedBuffer keeps the first healthOutputMax bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := healthOutputMax - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
