package build

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/build/buildctx"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
)

// rootfs is a stage's files as a directory, for what needs to look at
// them: resolving a COPY destination, --chown names, COPY --from sources,
// and the lower layer of RUN's overlay. It is made only when a step needs
// it (a fully cached build never unpacks anything) and kept in step by
// applying the stage's new layers when next used.
type rootfs struct {
	dir     string
	pending []metadata.Layer
}

func (r *rootfs) release() { os.RemoveAll(r.dir) }

// files returns the directory of the stage's files, up to date.
func (s *stage) files(ctx context.Context) (string, error) {
	st := s.state
	if st.fs == nil {
		dir, err := os.MkdirTemp(s.b.tmp, "fs-")
		if err != nil {
			return "", err
		}
		st.fs = &rootfs{dir: dir, pending: append([]metadata.Layer{}, st.layers...)}
	}
	for len(st.fs.pending) > 0 {
		if err := s.b.applyLayer(ctx, st.fs.dir, st.fs.pending[0]); err != nil {
			return "", err
		}
		st.fs.pending = st.fs.pending[1:]
	}
	return st.fs.dir, nil
}

func (b *builder) applyLayer(ctx context.Context, dir string, l metadata.Layer) error {
	f, err := b.st.Content.Open(l.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := layer.Decompress(f)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = layer.Apply(ctx, dir, r, layer.ApplyOptions{})
	return err
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
