package builder

import (
	"context"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/cache"
)

// workdir sets the working directory and, as BuildKit does, creates it
// (owned by the current USER) in a layer of its own, empty if it existed;
// WORKDIR / makes no layer.
func (s *stage) workdir(ctx context.Context, c *instructions.WorkdirCommand) error {
	st := s.state
	if err := s.applyConfig(c, s.b.lex()); err != nil {
		return s.lineErr(c, err)
	}
	wd := st.cfg.Config.WorkingDir
	if wd == "/" {
		s.configStep(c, nil)
		return nil
	}
	text := "WORKDIR " + wd
	v := s.newStep(text)
	k := cache.Key{Parent: st.key, Platform: s.platform.String(), Instruction: text + " user=" + st.cfg.Config.User}
	ls := &layerStep{key: k, display: text, createdBy: text, v: v}
	if hit, err := s.lookup(ls); err != nil || hit {
		return err
	}
	fail := func(err error) error { v.Error(err); return s.lineErr(c, err) }
	dir, err := s.files(ctx)
	if err != nil {
		return fail(err)
	}
	o := owner{}
	if u := st.cfg.Config.User; u != "" {
		// As a --chown: a uid alone is also the gid (RUN's process
		// gets group 0 instead).
		if o, err = resolveOwner(dir, u, false); err != nil {
			return fail(err)
		}
	}
	res := newResolver(&buildctx.FS{Root: dir})
	var items []tarItem
	target := strings.TrimPrefix(res.resolveAll(wd), "/")
	for p := target; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if _, err := res.fs.Lstat(p); err == nil {
			break
		}
		items = append([]tarItem{{name: p, isDir: true, mode: 0o755, uid: o.uid, gid: o.gid, mtime: s.b.start}}, items...)
	}
	l, err := s.b.writeLayer(s.b.itemsWriter(items))
	if err != nil {
		return fail(err)
	}
	s.finish(ls, l)
	return nil
}
