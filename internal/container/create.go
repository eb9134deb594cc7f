package container

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	net "github.com/strata-dev/strata/internal/network"
	"github.com/strata-dev/strata/internal/sandbox"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// CreateOptions are the options of create and run.
type CreateOptions struct {
	Image      string
	Name       string
	Args       []string // the command given after the image
	Entrypoint *string  // --entrypoint, when given ("" clears the image's)
	Env        []string // -e K=V, or K (taken from the host's environment)
	EnvFiles   []string
	WorkingDir string
	User       string
	Hostname   string
	Network    string
	Tty        bool
	Stdin      bool
	AutoRemove bool
	Volumes    []string // -v HOST:CTR[:ro|rw]
	Publish    []string // -p [IP:][HOSTPORT:]CTRPORT[/PROTO]
	PublishAll bool     // -P: every exposed port on a free host port
	Expose     []string // --expose PORT[/PROTO]
	Labels     []string // --label KEY[=VALUE]
	// Sandbox is the confinement and limits (sandbox.Parse of the
	// security and resource flags).
	Sandbox sandbox.Options
	// Platform picks the image of a multi-platform image (--platform; nil:
	// this machine's).
	Platform *image.Platform
	// Health is --health-* and --no-healthcheck.
	Health HealthOptions
	// DNS is --dns, --dns-search and --dns-option.
	DNS executor.DNS
	// GroupAdd is --group-add (group names are looked up at start).
	GroupAdd []string
}

// UsageError is bad input on the command line, found before anything is
// made: docker exits 125 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// ParseVolume parses -v HOST:CTR[:ro|rw]. Only bind mounts of host paths
// exist here: a name would be a named volume, which strata does not have.
// A host path that starts with "." (".", "./data", "../data") is taken
// from the working directory, as docker does since 23.0 (20.10 refused
// it); other relative paths are names.
func ParseVolume(spec string) (Volume, error) {
	parts := strings.Split(spec, ":")
	bad := func(why string) (Volume, error) {
		return Volume{}, usage("invalid volume specification: '%s': %s", spec, why)
	}
	if len(parts) < 2 || len(parts) > 3 {
		return bad("want HOST-PATH:CONTAINER-PATH[:ro|rw]")
	}
	v := Volume{Source: parts[0], Target: parts[1]}
	if strings.HasPrefix(v.Source, ".") {
		abs, err := filepath.Abs(v.Source)
		if err != nil {
			return bad(err.Error())
		}
		v.Source = abs
	}
	if !filepath.IsAbs(v.Source) {
		return bad("the host path must be absolute (named volumes are not supported)")
	}
	if !path.IsAbs(v.Target) {
		return bad("the container path must be absolute")
	}
	if path.Clean(v.Target) == "/" {
		return bad("cannot mount over the container's root")
	}
	v.Source, v.Target = filepath.Clean(v.Source), path.Clean(v.Target)
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			v.ReadOnly = true
		case "rw":
		default:
			return bad(fmt.Sprintf("unknown mode %q (want ro or rw)", parts[2]))
		}
	}
	return v, nil
}

var nameRE = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ParseEnv applies -e entries and --env-file files to env, as docker
// does: K=V sets, a bare K copies the host's value if it has one.
func ParseEnv(env, flags, files []string) ([]string, error) {
	var all []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, usage("open env file: %v", err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			all = append(all, line)
		}
	}
	all = append(all, flags...)
	out := append([]string{}, env...)
	for _, kv := range all {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usage("invalid environment variable: %s", kv)
		}
		if !ok {
			hv, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = hv
		}
		out = changes.SetEnv(out, k, v)
	}
	return out, nil
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create makes a container: its image's layers unpacked (once, shared),
// its own read-write snapshot, its runtime files and its record. On
// failure nothing of it is left. ctx stops the unpack of the image's
// layers (a ^C during the first run of a big image).
func (m *Manager) Create(ctx context.Context, o CreateOptions) (*Record, error) {
	var im *metadata.Image
	cfg, err := containerConfig(o, func() (*image.ConfigFile, error) {
		var err error
		if o.Platform != nil {
			im, err = m.St.ResolvePlatform(o.Image, *o.Platform)
		} else {
			im, err = m.St.Resolve(o.Image)
		}
		if err != nil {
			return nil, err
		}
		icfg, _, err := m.St.Config(im)
		return icfg, err
	})
	if err != nil {
		return nil, err
	}
	network := cfg.Network

	r := &Record{
		Images: []digest.Digest{im.ID}, ID: newID(), Name: strings.TrimPrefix(o.Name, "/"),
		Image: im.ID, ImageRef: o.Image, Created: time.Now().UTC(), Driver: m.SN.Driver(), Config: cfg,
	}
	r.Snapshot = "ctr-" + r.ID
	cfg.Hostname = o.Hostname
	if cfg.Hostname == "" {
		cfg.Hostname = r.ID[:12]
		if network == NetworkHost {
			if h, err := os.Hostname(); err == nil {
				cfg.Hostname = h
			}
		}
	}
	r.Config.Hostname = cfg.Hostname

	// Unpacking and preparing write snapshots: hold the writer lock so
	// that garbage collection does not take them for debris meanwhile.
	lock, err := m.St.Writing()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	var layers []snapshot.Layer
	for _, l := range im.Layers {
		layers = append(layers, snapshot.Layer{Blob: l.Digest, DiffID: l.DiffID})
	}
	open := m.St.OpenBlob
	if r.Parent, err = snapshot.Unpack(ctx, m.SN, open, layers); err != nil {
		return nil, err
	}
	ok := false
	if _, err := m.SN.Prepare(r.Snapshot, r.Parent); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			m.SN.Remove(r.Snapshot)
			os.RemoveAll(m.Dir(r.ID))
		}
	}()
	if err := m.writeFiles(r); err != nil {
		return nil, err
	}
	if err := m.addRecord(r, o.Name != ""); err != nil {
		return nil, err
	}
	ok = true
	m.event(r, "create")
	return r, nil
}

// containerConfig is the container's config: the image's (read by
// imageConfig once the options that need no image are checked), with the
// options of create or run applied, checked as docker checks them.
func containerConfig(o CreateOptions, imageConfig func() (*image.ConfigFile, error)) (Config, error) {
	var vols []Volume
	for _, spec := range o.Volumes {
		v, err := ParseVolume(spec)
		if err != nil {
			return Config{}, err
		}
		vols = append(vols, v)
	}
	targets := o.Sandbox.Targets()
	for _, v := range vols {
		targets = append(targets, v.Target)
	}
	if err := sandbox.CheckDuplicateTargets(targets); err != nil {
		return Config{}, &UsageError{err}
	}
	network := o.Network
	switch network {
	case "", "default":
		network = NetworkBridge
	case NetworkBridge, NetworkHost, NetworkNone:
	default:
		return Config{}, usage("network %s not found (bridge, host and none exist here)", network)
	}
	published, err := net.ParsePublish(o.Publish)
	if err != nil {
		return Config{}, &UsageError{err}
	}
	if o.Name != "" && !nameRE.MatchString(o.Name) {
		return Config{}, usage("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	icfg, err := imageConfig()
	if err != nil {
		return Config{}, err
	}
	ic := icfg.Config
	cfg := Config{
		Entrypoint: ic.Entrypoint, Cmd: ic.Cmd, WorkingDir: ic.WorkingDir, User: ic.User,
		Tty: o.Tty, OpenStdin: o.Stdin, Network: network, Volumes: vols, AutoRemove: o.AutoRemove,
		StopSignal: ic.StopSignal, Sandbox: o.Sandbox, DNS: o.DNS, GroupAdd: o.GroupAdd,
	}
	if cfg.Healthcheck, err = healthConfig(ic.Healthcheck, o.Health); err != nil {
		return Config{}, err
	}
	if len(ic.Labels) > 0 || len(o.Labels) > 0 {
		cfg.Labels = map[string]string{}
		for k, v := range ic.Labels {
			cfg.Labels[k] = v
		}
		for _, l := range o.Labels {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return Config{}, usage("invalid label '%s': empty name", l)
			}
			cfg.Labels[k] = v
		}
	}
	// Exposed: the image's, --expose's and -p's container ports, as
	// docker counts them (ps shows those not published, -P publishes
	// them all).
	exposed := append([]string{}, o.Expose...)
	for k := range ic.ExposedPorts {
		exposed = append(exposed, k)
	}
	for _, p := range published {
		exposed = append(exposed, p.Key())
	}
	if cfg.ExposedPorts, err = net.ParseExposed(exposed); err != nil {
		return Config{}, &UsageError{err}
	}
	if network == NetworkBridge {
		// docker drops them on other networks (with a warning for host).
		cfg.Ports = published
		if o.PublishAll {
			cfg.Ports = net.PublishAll(published, cfg.ExposedPorts)
		}
	}
	if o.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = nil, nil
		if *o.Entrypoint != "" {
			cfg.Entrypoint = []string{*o.Entrypoint}
		}
	}
	if len(o.Args) > 0 {
		cfg.Cmd = o.Args
	}
	if len(cfg.Args()) == 0 {
		return Config{}, usage("no command specified")
	}
	if o.WorkingDir != "" {
		if !path.IsAbs(o.WorkingDir) {
			return Config{}, usage("the working directory '%s' is invalid: it needs to be an absolute path", o.WorkingDir)
		}
		cfg.WorkingDir = o.WorkingDir
	}
	if o.User != "" {
		cfg.User = o.User
	}
	// The config keeps the image's Env as it is (a missing PATH is the
	// process's default, added at start, as docker does).
	cfg.Env, err = ParseEnv(ic.Env, o.Env, o.EnvFiles)
	return cfg, err
}

// addRecord stores a new container's record, with a random name when it
// has none; a name given by the user that another container has is a
// conflict, a random one is drawn again.
func (m *Manager) addRecord(r *Record, named bool) error {
	return m.St.Meta.Update(func(tx *metadata.Tx) error {
		if r.Name == "" {
			r.Name = randomName()
		}
		for {
			var clash string
			err := tx.ForEach(metadata.BucketContainers, func(key string, raw []byte) error {
				// The name alone: a whole record per container made
				// each create slower by the number of containers kept.
				var other struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				}
				if json.Unmarshal(raw, &other) == nil && other.Name == r.Name {
					clash = other.ID
				}
				return nil
			})
			if err != nil {
				return err
			}
			if clash == "" {
				break
			}
			if named {
				return usage("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name", r.Name, clash)
			}
			r.Name = randomName()
		}
		return tx.Put(metadata.BucketContainers, r.ID, r)
	})
}

// writeFiles makes the container's directory: the bundle with its
// rootfs mount point, and the files bind-mounted at /etc/hosts,
// /etc/hostname and /etc/resolv.conf, made as docker makes them.
func (m *Manager) writeFiles(r *Record) error {
	if err := os.MkdirAll(m.Rootfs(r.ID), 0o700); err != nil {
		return err
	}
	// No state file yet: State reads that as created.
	return executor.WriteContainerEtc(m.Dir(r.ID), r.Config.Hostname, r.Config.Network, r.Config.Sandbox.HostsEntries(), r.Config.DNS)
}

// Remove removes a container: its snapshot, its files and its record. A
// running container is refused unless force, which kills it first.
func (m *Manager) Remove(r *Record, force bool) error {
	if m.State(r.ID).Status == Running {
		if !force {
			return fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", r.Name)
		}
		if err := m.Kill(r, "KILL"); err != nil {
			return err
		}
	}
	// An exited container's monitor may still be tearing down (its
	// network): let it finish.
	m.waitMonitor(r.ID, 10*time.Second)
	return m.remove(r)
}

func (m *Manager) remove(r *Record) error {
	if rt, err := m.runtime(); err == nil {
		rt.Delete(r.ID, true)
	}
	if err := m.detach(r); err != nil {
		return err
	}
	if err := snapshot.Unmount(m.Rootfs(r.ID)); err != nil {
		return err
	}
	// The record goes first: without it nothing refers to the rest, and
	// garbage collection removes what a crash here leaves.
	err := m.St.Meta.Update(func(tx *metadata.Tx) error { return tx.Delete(metadata.BucketContainers, r.ID) })
	if err != nil {
		return err
	}
	m.event(r, "destroy")
	if err := m.SN.Remove(r.Snapshot); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
		return err
	}
	return os.RemoveAll(m.Dir(r.ID))
}

// LayerSize is the disk space of the container's own layer.
func (m *Manager) LayerSize(r *Record) int64 {
	dir, err := m.SN.Dir(r.Snapshot)
	if err != nil {
		return 0
	}
	return store.FileBytes(dir)
}
