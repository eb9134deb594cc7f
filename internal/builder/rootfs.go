package builder

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
)

// rootfs is a stage's files as a directory, for what needs to look at
// them: resolving a COPY destination, --chown names and COPY --from
// sources. It is a read-only view of the stage's snapshot (layers unpacked
// once, by chain ID, shared with images and containers), made only when a
// step needs it: a fully cached build never unpacks anything.
type rootfs struct {
	b    *builder
	dir  string // mount point, or the snapshot's own tree (direct)
	view string // view snapshot key ("" for an empty stage)
	top  string // chain ID it shows
	// direct: dir is the tree of the view's parent, read where it is.
	direct bool
}

func (r *rootfs) release() {
	if r.view != "" {
		if !r.direct {
			snapshot.Unmount(r.dir)
		}
		if sn, err := r.b.snapshotter(); err == nil {
			sn.Remove(r.view)
		}
	}
	if !r.direct {
		os.Remove(r.dir)
	}
}

// snapshotter opens the store's snapshots (the driver recorded in the
// store, as containers use).
func (b *builder) snapshotter() (snapshot.Snapshotter, error) {
	b.snOnce.Do(func() {
		b.sn, b.snErr = b.st.Snapshotter("")
	})
	return b.sn, b.snErr
}

// unpack makes sure the layers have their snapshots and returns the top
// chain ID ("" for none).
func (b *builder) unpack(ctx context.Context, layers []metadata.Layer) (string, error) {
	if len(layers) == 0 {
		return "", nil
	}
	// Remote cache hits: their bytes are needed now.
	layers = append([]metadata.Layer{}, layers...)
	if err := b.ensureLayers(ctx, layers); err != nil {
		return "", err
	}
	sn, err := b.snapshotter()
	if err != nil {
		return "", err
	}
	ls := make([]snapshot.Layer, len(layers))
	for i, l := range layers {
		ls[i] = snapshot.Layer{Blob: l.Digest, DiffID: l.DiffID}
	}
	return snapshot.Unpack(ctx, sn, b.st.OpenBlob, ls)
}

// mountView mounts a read-only view of layers at a new directory.
func (b *builder) mountView(ctx context.Context, layers []metadata.Layer) (*rootfs, error) {
	dir, err := os.MkdirTemp(b.tmp, "fs-")
	if err != nil {
		return nil, err
	}
	r := &rootfs{b: b, dir: dir}
	top, err := b.unpack(ctx, layers)
	if err != nil || top == "" {
		return r, err
	}
	sn, err := b.snapshotter()
	if err != nil {
		return r, err
	}
	key := "build-view-" + randomID()
	mounts, err := sn.View(key, top)
	if err != nil {
		return r, err
	}
	r.view, r.top = key, top
	if len(mounts) == 1 && mounts[0].Type == "bind" {
		// A vfs view is a bind mount of its parent's tree: read there,
		// with nothing mounted, which is what lets a build run where
		// mounts are refused (chroot isolation).
		os.Remove(dir)
		r.dir, r.direct = mounts[0].Source, true
		return r, nil
	}
	if err := snapshot.All(mounts, dir); err != nil {
		return r, err
	}
	return r, nil
}

// files returns the directory of the stage's files, up to date.
func (s *stage) files(ctx context.Context) (string, error) {
	st := s.state
	top := ""
	if len(st.layers) > 0 {
		top = chainID(st.layers).String()
	}
	if st.fs != nil && st.fs.top == top {
		return st.fs.dir, nil
	}
	if st.fs != nil {
		st.fs.release()
		st.fs = nil
	}
	r, err := s.b.mountView(ctx, st.layers)
	if r != nil {
		st.fs = r
	}
	if err != nil {
		return "", err
	}
	return r.dir, nil
}

func chainID(layers []metadata.Layer) digest.Digest {
	ids := make([]digest.Digest, len(layers))
	for i, l := range layers {
		ids[i] = l.DiffID
	}
	return image.ChainID(ids)
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// owner is a resolved uid:gid.
type owner struct{ uid, gid int }

// resolveOwner turns a --chown or USER value (user[:group], names or
// numbers) into numbers with the stage's /etc/passwd and /etc/group. A
// user given alone gives its own number as the group, as docker does for
// --chown.
func resolveOwner(dir, spec string, primaryGroup bool) (owner, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	var o owner
	uid, err := strconv.Atoi(u)
	userGid := -1
	if err != nil {
		e, ok, err := lookupColon(dir, "/etc/passwd", u)
		if err != nil {
			return o, err
		}
		if !ok || len(e) < 4 {
			return o, fmt.Errorf("unable to find user %s: no matching entries in passwd file", u)
		}
		if uid, err = strconv.Atoi(e[2]); err != nil {
			return o, fmt.Errorf("bad passwd entry for %s", u)
		}
		userGid, _ = strconv.Atoi(e[3])
		// A name given alone takes the user's primary group.
		primaryGroup = true
	} else if primaryGroup {
		if e, ok, _ := lookupColonByID(dir, "/etc/passwd", uid); ok && len(e) >= 4 {
			userGid, _ = strconv.Atoi(e[3])
		}
	}
	o.uid, o.gid = uid, uid
	if primaryGroup {
		o.gid = 0
		if userGid >= 0 {
			o.gid = userGid
		}
	}
	if hasGroup {
		gid, err := strconv.Atoi(g)
		if err != nil {
			e, ok, err := lookupColon(dir, "/etc/group", g)
			if err != nil {
				return o, err
			}
			if !ok || len(e) < 3 {
				return o, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
			}
			if gid, err = strconv.Atoi(e[2]); err != nil {
				return o, fmt.Errorf("bad group entry for %s", g)
			}
		}
		o.gid = gid
	}
	return o, nil
}

// supplementaryGroups are the groups /etc/group lists a USER as a member
// of, which RUN's process gets besides its primary group (as runc's
// GetExecUser gives BuildKit): only for a user written without a group,
// found in /etc/passwd by name or uid.
func supplementaryGroups(dir, spec string) ([]uint32, error) {
	if strings.Contains(spec, ":") {
		return nil, nil
	}
	name := spec
	if uid, err := strconv.Atoi(spec); err == nil {
		e, ok, err := lookupColonByID(dir, "/etc/passwd", uid)
		if err != nil || !ok {
			return nil, err
		}
		name = e[0]
	}
	var out []uint32
	err := readColon(dir, "/etc/group", func(f []string) bool {
		if len(f) < 4 {
			return false
		}
		for _, m := range strings.Split(f[3], ",") {
			if strings.TrimSpace(m) == name {
				if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
					out = append(out, uint32(gid))
				}
				break
			}
		}
		return false
	})
	return out, err
}

func lookupColon(dir, file, name string) ([]string, bool, error) {
	var out []string
	err := readColon(dir, file, func(f []string) bool {
		if f[0] == name {
			out = f
			return true
		}
		return false
	})
	return out, out != nil, err
}

func lookupColonByID(dir, file string, id int) ([]string, bool, error) {
	var out []string
	err := readColon(dir, file, func(f []string) bool {
		if len(f) > 2 && f[2] == strconv.Itoa(id) {
			out = f
			return true
		}
		return false
	})
	return out, out != nil, err
}

// readColon reads a colon-separated file of the stage, resolved inside it.
func readColon(dir, file string, fn func([]string) bool) error {
	if dir == "" {
		return nil
	}
	fs := &buildctx.FS{Root: dir}
	e, err := fs.Stat(file)
	if err != nil {
		return nil // no such file: nothing matches
	}
	f, err := os.Open(e.Abs)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if fn(strings.Split(l, ":")) {
			return nil
		}
	}
	return sc.Err()
}
