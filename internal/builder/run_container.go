package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/runtime"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// runInContainer runs a RUN command as a container: a read-write snapshot
// prepared on the stage's snapshot, run by the build's executor (the one
// `strata run` uses, unless the build was given another), then the layer
// written from the snapshot's changes (the driver's WriteDiff). The
// snapshot is thrown away: the next step that needs the stage's files
// unpacks the layer, so a RUN that ends a build writes its files once.
func runInContainer(ctx context.Context, b *builder, s *stage, r *execRequest) error {
	sn, err := b.snapshotter()
	if err != nil {
		return err
	}
	parent, err := b.unpack(ctx, s.state.layers)
	if err != nil {
		return err
	}
	id := "strata-build-" + randomID()
	mounts, err := sn.Prepare(id, parent)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			sn.Remove(id)
		}
	}()
	// The executor unmounts the rootfs while the layer is written from the
	// upper directory; the snapshot is committed or removed only after.
	var unmounting <-chan error
	unmounted := func() error {
		if unmounting == nil {
			return nil
		}
		err := <-unmounting
		unmounting = nil
		return err
	}
	defer unmounted()
	dir := filepath.Join(b.tmp, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	specMounts, exclude, cleanup, err := s.runMounts(ctx, dir, r.mounts)
	defer cleanup()
	if err != nil {
		return err
	}
	agents, agentPaths, authSock, err := s.sshMounts(r.mounts)
	if err != nil {
		return err
	}
	specMounts, exclude = append(specMounts, agents...), append(exclude, agentPaths...)
	ex, err := b.executor()
	if err != nil {
		return err
	}
	code, err := ex.Run(ctx, executor.Spec{
		ID: id, Bundle: dir, Rootfs: mounts,
		// The snapshot is synced once, when it is committed, rather than
		// also when it is unmounted.
		Volatile: true,
		Process:  executor.Process{Args: r.args, Env: withAuthSock(r.env, authSock), Cwd: r.cwd},
		Prepare: func(rootfs string, p *executor.Process) error {
			if r.user == "" {
				return nil
			}
			o, err := resolveOwner(rootfs, r.user, true)
			if err != nil {
				return err
			}
			p.UID, p.GID = uint32(o.uid), uint32(o.gid)
			p.Groups, err = supplementaryGroups(rootfs, r.user)
			return err
		},
		// /etc/hosts, /etc/hostname and /etc/resolv.conf as docker's
		// build sandbox has them, kept out of the layer.
		Etc:        executor.BuildEtc,
		Mounts:     specMounts,
		Network:    r.network,
		Sandbox:    s.b.o.Sandbox,
		Stdio:      executor.Stdio{Stdout: r.stdout, Stderr: r.stdout},
		Unmounting: func(done <-chan error) { unmounting = done },
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	exclude = append(exclude, container.RuntimePaths...)
	committed, err = b.writeRunLayer(sn, id, s, r, exclude, unmounted)
	return err
}

// writeRunLayer writes the layer of a RUN step from its snapshot's changes
// (the driver's WriteDiff) and reports whether the snapshot was committed,
// as the layer's own or as the next step's parent. unmounted waits for the
// snapshot's mount to be gone: it is called before the snapshot is
// committed.
func (b *builder) writeRunLayer(sn snapshot.Snapshotter, id string, s *stage, r *execRequest, exclude []string, unmounted func() error) (committed bool, err error) {
	var content int64
	opts := layer.DiffOptions{Timestamp: b.o.Timestamp, Exclude: exclude, ContentSize: &content}
	fill := func(w io.Writer) error { return sn.WriteDiff(w, id, opts) }
	// The mount points the runtime made, and the directories made for
	// them, are taken out first: the directories are not excluded
	// (the command may have written into them), only removed when empty.
	if err := sn.RemoveStubs(id, exclude); err != nil {
		return false, err
	}
	if b.o.KeepRunLayers && b.o.Timestamp == nil {
		l, kept, err := b.keepLayer(sn, id, s.state.layers, fill, &content, exclude, unmounted)
		if err != nil {
			return false, err
		}
		if l != nil {
			r.kept(l)
			return kept, nil
		}
		// Not kept (the chain's snapshot exists already): written as usual.
	}
	l, err := r.diff(fill, &content)
	if err != nil {
		return false, err
	}
	// The command's snapshot becomes the new layer's snapshot, as in
	// BuildKit: the next step runs on it without unpacking the layer, and
	// nothing is deleted (removing a snapshot of 100,000 files costs more
	// than writing their layer); without its stubs it holds exactly what
	// the layer holds. With --timestamp the layer's times differ from the
	// files', so the layer is unpacked instead.
	if err := unmounted(); err != nil {
		return false, err
	}
	if b.o.Timestamp == nil {
		chain := chainID(append(append([]metadata.Layer{}, s.state.layers...), *l)).String()
		return sn.Commit(chain, id) == nil, nil
	}
	return false, nil
}

// executor is the build's executor: the one it was given, else the OCI
// executor on the runtime runtime.Find chooses.
func (b *builder) executor() (executor.Executor, error) {
	if b.o.Executor != nil {
		return b.o.Executor, nil
	}
	rt, err := runtime.Find(b.o.Runtime, b.st.Path(store.RuntimeState))
	if err != nil {
		return nil, err
	}
	rt.SeccompCache = b.st.Path(store.SeccompCache)
	return executor.New(rt), nil
}

// runMounts turns RUN --mount flags into runtime mounts, and lists their
// targets, which are kept out of the layer.
func (s *stage) runMounts(ctx context.Context, dir string, ms []*instructions.Mount) ([]specs.Mount, []string, func(), error) {
	b := s.b
	var out []specs.Mount
	var exclude []string
	cleanup := func() {}
	for _, m := range ms {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			wd := s.state.cfg.Config.WorkingDir
			if wd == "" {
				wd = "/"
			}
			target = path.Join(wd, target)
		}
		ro := func(opts []string) []string {
			if m.ReadOnly {
				return append(opts, "ro")
			}
			return opts
		}
		switch m.Type {
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			src := filepath.Join(b.st.Path(store.BuildCache), strings.NewReplacer("/", "_", ".", "_").Replace(id))
			if _, err := os.Stat(src); os.IsNotExist(err) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, nil, cleanup, err
				}
				uid, gid := 0, 0
				if m.UID != nil {
					uid = int(*m.UID)
				}
				if m.GID != nil {
					gid = int(*m.GID)
				}
				os.Chown(src, uid, gid)
				if m.Mode != nil {
					os.Chmod(src, os.FileMode(*m.Mode))
				}
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: src, Options: ro([]string{"rbind"})})
		case instructions.MountTypeBind:
			root := ""
			if m.From != "" {
				d, err := s.fromFS(ctx, m.From)
				if err != nil {
					return nil, nil, cleanup, err
				}
				root = d
			} else if b.ctxFS != nil {
				root = b.ctxFS.Root
			} else {
				return nil, nil, cleanup, errors.New("RUN --mount=type=bind needs a build context")
			}
			e, err := (&fsRoot{root}).stat(m.Source)
			if err != nil {
				return nil, nil, cleanup, fmt.Errorf("--mount=type=bind source %q: %w", m.Source, err)
			}
			// Writes to a bind mount never reach the source: it is
			// read-only (BuildKit discards them; here they fail).
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: e, Options: []string{"rbind", "ro"}})
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			src, ok := b.o.Secrets[id]
			if !ok {
				if m.Required {
					return nil, nil, cleanup, fmt.Errorf("secret %s is required but was not given (--secret id=%s,src=FILE)", id, id)
				}
				continue
			}
			if env, ok := strings.CutPrefix(src, "env:"); ok {
				p := filepath.Join(dir, "secret-"+randomID())
				if err := os.WriteFile(p, []byte(os.Getenv(env)), 0o400); err != nil {
					return nil, nil, cleanup, err
				}
				src = p
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
		case instructions.MountTypeTmpfs:
			opts := []string{"nosuid", "nodev"}
			if m.SizeLimit > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", m.SizeLimit))
			}
			out = append(out, specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case instructions.MountTypeSSH:
			continue // sshMounts
		default:
			return nil, nil, cleanup, fmt.Errorf("RUN --mount=type=%s is not supported", m.Type)
		}
		exclude = append(exclude, target)
	}
	return out, exclude, cleanup, nil
}

// fsRoot resolves a path inside a directory, symlinks included.
type fsRoot struct{ root string }

func (f *fsRoot) stat(p string) (string, error) {
	fs := &buildctx.FS{Root: f.root}
	e, err := fs.Stat(p)
	if err != nil {
		return "", err
	}
	return e.Abs, nil
}
