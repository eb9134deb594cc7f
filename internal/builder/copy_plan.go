package builder

import (
	"archive/tar"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
	"github.com/strata-dev/strata/internal/rootpath"
)

// plan lists the layer's entries: every source at its place under dest,
// resolved against the stage's files (symlinks in the destination are
// followed, as the copy inside a container would), with the missing
// parent directories.
func (s *stage) plan(dir string, items []srcItem, dest string, destDir bool, sp copySpec, excl *dockerignore.Matcher, chown *owner, chmod *int64) ([]tarItem, error) {
	root := &buildctx.FS{Root: dir}
	p := &copyPlan{res: newResolver(root), now: s.b.start, dest: dest, destDir: destDir, sp: sp, excl: excl, chown: chown, chmod: chmod}
	for _, src := range items {
		var err error
		switch {
		case src.data != nil:
			err = p.addData(src)
		case src.e.IsDir():
			err = p.addDir(src)
		default:
			err = p.addFile(src)
		}
		if err != nil {
			return nil, err
		}
	}
	uniq, seen := lastWins(p.out)
	uniq = p.addParents(root, uniq, seen)
	sort.Slice(uniq, func(i, j int) bool { return uniq[i].name < uniq[j].name })
	fixLinks(uniq)
	return uniq, nil
}

// copyPlan collects the entries of one COPY or ADD, source by source.
type copyPlan struct {
	res     *resolver
	now     time.Time // the mtime of what the step makes (contents, parents)
	dest    string
	destDir bool
	sp      copySpec
	excl    *dockerignore.Matcher
	chown   *owner
	chmod   *int64
	out     []tarItem
}

// owned sets the owner of it: the source's when kept, --chown's when given.
func (p *copyPlan) owned(it *tarItem, e *buildctx.Entry, keep bool) {
	if keep && e != nil {
		it.uid, it.gid = int(e.Stat.Uid), int(e.Stat.Gid)
	}
	if p.chown != nil {
		it.uid, it.gid = p.chown.uid, p.chown.gid
	}
}

// fromEntry is the entry of a source file at name: its mode (or --chmod),
// mtime and owner.
func (p *copyPlan) fromEntry(name string, e *buildctx.Entry, keep bool) tarItem {
	it := tarItem{name: name, e: e, mode: int64(e.Stat.Mode & 0o7777), mtime: time.Unix(e.Stat.Mtim.Unix())}
	if p.chmod != nil {
		it.mode = *p.chmod
	}
	p.owned(&it, e, keep)
	return it
}

// addData adds a heredoc's content.
func (p *copyPlan) addData(src srcItem) error {
	name := p.dest
	if p.destDir {
		name = path.Join(p.dest, src.name)
	}
	name, err := p.res.dest(name)
	if err != nil {
		return err
	}
	it := tarItem{name: name, data: src.data, mode: 0o644, mtime: p.now}
	if p.chmod != nil {
		it.mode = *p.chmod
	}
	p.owned(&it, nil, false)
	p.out = append(p.out, it)
	return nil
}

// addDir adds a directory source's tree (not the directory itself).
func (p *copyPlan) addDir(src srcItem) error {
	// Hard links are kept within one directory source, as BuildKit
	// copies each source on its own.
	links := map[[2]uint64]string{}
	base := p.dest
	if p.sp.parents {
		base = path.Join(p.dest, src.rel)
	}
	baseR, err := p.res.dest(base)
	if err != nil {
		return err
	}
	return src.fs.Walk(src.e, p.excl, func(e *buildctx.Entry, sub string) error {
		name := path.Join(baseR, sub)
		if sub == "" {
			// The destination directory is not the source's:
			// an existing one is kept, a new one is made like
			// the missing parents (0755, --chown's owner), even
			// when the source is empty.
			return p.destDirectory(baseR)
		}
		if old := p.res.lstat(name); e.IsDir() && old != nil && !old.IsDir() {
			// BuildKit merges directories but refuses to
			// replace a file or a symlink with one.
			return fmt.Errorf("cannot copy to non-directory: %s", name)
		}
		it := p.fromEntry(name, e, src.owner)
		if e.IsRegular() && e.Stat.Nlink > 1 {
			k := [2]uint64{e.Stat.Dev, e.Stat.Ino}
			if first, ok := links[k]; ok {
				it.link = first
			} else {
				links[k] = name
			}
		}
		p.out = append(p.out, it)
		return nil
	})
}

// addFile adds a file source (a downloaded URL too), or the contents of a
// local archive ADD extracts.
func (p *copyPlan) addFile(src srcItem) error {
	name := p.dest
	if p.destDir || p.res.isDir(p.dest) {
		name = path.Join(p.dest, path.Base(src.rel))
		if src.name != "" {
			name = path.Join(p.dest, src.name)
		}
	}
	if p.sp.parents {
		name = path.Join(p.dest, src.rel)
	}
	name, err := p.res.dest(name)
	if err != nil {
		return err
	}
	if p.sp.add && src.url == "" && (p.sp.unpack == nil || *p.sp.unpack) {
		arch, err := readArchive(src.e.Abs)
		if err != nil {
			return err
		}
		if arch != nil {
			d, err := p.res.dest(p.dest)
			if err != nil {
				return err
			}
			if err := p.destDirectory(d); err != nil {
				return err
			}
			for _, a := range arch {
				it := tarItem{name: path.Join(d, a.name), arch: a, mode: a.hdr.Mode & 0o7777, uid: a.hdr.Uid, gid: a.hdr.Gid, mtime: a.hdr.ModTime}
				if a.hdr.Typeflag == tar.TypeLink {
					it.link = path.Join(d, a.hdr.Linkname)
				}
				if p.chown != nil {
					it.uid, it.gid = p.chown.uid, p.chown.gid
				}
				p.out = append(p.out, it)
			}
			return nil
		}
	}
	it := p.fromEntry(name, src.e, src.owner)
	if src.url != "" {
		it.mode = 0o600
		if p.chmod != nil {
			it.mode = *p.chmod
		}
		it.mtime = time.Unix(src.e.Stat.Mtim.Unix())
	}
	p.out = append(p.out, it)
	return nil
}

// destDirectory adds the directory a directory source is copied into
// (resolved) when the stage lacks it.
func (p *copyPlan) destDirectory(dir string) error {
	old := p.res.lstat(dir)
	switch {
	case old == nil:
		d := tarItem{name: dir, isDir: true, mode: 0o755, mtime: p.now}
		p.owned(&d, nil, false)
		p.out = append(p.out, d)
	case !old.IsDir():
		return fmt.Errorf("cannot copy to non-directory: %s", dir)
	}
	return nil
}

// lastWins cleans the entries' names and keeps one entry a path: later
// sources win over earlier ones at the same path. seen maps a name to its
// index in uniq.
func lastWins(out []tarItem) (uniq []tarItem, seen map[string]int) {
	seen = map[string]int{}
	for _, it := range out {
		it.name = strings.TrimPrefix(path.Clean("/"+it.name), "/")
		if it.name == "" {
			continue
		}
		if i, ok := seen[it.name]; ok {
			uniq[i] = it
			continue
		}
		seen[it.name] = len(uniq)
		uniq = append(uniq, it)
	}
	return uniq, seen
}

// addParents adds the parents the stage's files (at root) lack:
// directories 0755, owned like the copy.
func (p *copyPlan) addParents(root *buildctx.FS, uniq []tarItem, seen map[string]int) []tarItem {
	for _, it := range append([]tarItem{}, uniq...) {
		for dir := path.Dir(it.name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := seen[dir]; ok {
				continue
			}
			if _, err := root.Lstat(dir); err == nil {
				break
			}
			d := tarItem{name: dir, isDir: true, mode: 0o755, mtime: p.now}
			p.owned(&d, nil, false)
			seen[dir] = len(uniq)
			uniq = append(uniq, d)
		}
	}
	return uniq
}

// fixLinks makes every hard link point at a name written before it: the
// entries are sorted by name, so a link may come first, and then it
// becomes the file and its target the link.
func fixLinks(items []tarItem) {
	index := map[string]int{}
	for i := range items {
		if items[i].link != "" {
			items[i].link = strings.TrimPrefix(path.Clean("/"+items[i].link), "/")
		}
		index[items[i].name] = i
	}
	for i := range items {
		it := &items[i]
		if it.link == "" {
			continue
		}
		j, ok := index[it.link]
		if !ok {
			continue
		}
		if j > i {
			// Swap roles: this entry takes the file, the target links.
			t := &items[j]
			name, tname := it.name, t.name
			*it, *t = *t, *it
			it.name, t.name = name, tname
			it.link, t.link = "", name
			// Other links to the old target now point here.
			for k := range items {
				if k != i && items[k].link == tname {
					items[k].link = name
				}
			}
		}
	}
}

// resolver resolves destination paths in the stage's files as the copy
// in BuildKit does: every symlink is followed, the last one too (a
// dangling one names what the copy creates), with the files' root as "/",
// so that a destination never leads out of them.
type resolver struct {
	fs    *buildctx.FS
	cache map[string]resolved
}

type resolved struct {
	path string
	err  error
}

func newResolver(fs *buildctx.FS) *resolver { return &resolver{fs: fs, cache: map[string]resolved{}} }

// dest resolves p ("/"-rooted, clean or not); a component that is not a
// directory is an error.
func (r *resolver) dest(p string) (string, error) {
	p = path.Clean("/" + p)
	if v, ok := r.cache[p]; ok {
		return v.path, v.err
	}
	rel, err := rootpath.Resolve(rootpath.Dir(r.fs.Root), p, rootpath.Options{FollowLast: true, MissingOK: true})
	v := resolved{path: path.Clean("/" + rel)}
	if err != nil {
		// rootpath names the component that is not a directory.
		v = resolved{err: fmt.Errorf("destination %s: %w", p, err)}
	}
	r.cache[p] = v
	return v.path, v.err
}

// resolveAll is dest, with p itself when it cannot be resolved.
func (r *resolver) resolveAll(p string) string {
	v, err := r.dest(p)
	if err != nil {
		return path.Clean("/" + p)
	}
	return v
}

// lstat describes a resolved path of the stage's files, nil if missing.
func (r *resolver) lstat(resolved string) *buildctx.Entry {
	e, err := r.fs.Lstat(resolved)
	if err != nil {
		return nil
	}
	return e
}

func (r *resolver) isDir(p string) bool {
	e, err := r.fs.Stat(p)
	return err == nil && e.IsDir()
}
