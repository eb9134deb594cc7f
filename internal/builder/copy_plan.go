package builder

import (
	"archive/tar"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
)

// plan lists the layer's entries: every source at its place under dest,
// resolved against the stage's files (symlinks in the destination are
// followed, as the copy inside a container would), with the missing
// parent directories.
func (s *stage) plan(dir string, items []srcItem, dest string, destDir bool, sp copySpec, excl *dockerignore.Matcher, chown *owner, chmod *int64) ([]tarItem, error) {
	b := s.b
	root := &buildctx.FS{Root: dir}
	now := b.start
	res := newResolver(root)
	var out []tarItem
	owned := func(it *tarItem, e *buildctx.Entry, keep bool) {
		if keep && e != nil {
			it.uid, it.gid = int(e.Stat.Uid), int(e.Stat.Gid)
		}
		if chown != nil {
			it.uid, it.gid = chown.uid, chown.gid
		}
	}
	fromEntry := func(name string, e *buildctx.Entry, keep bool) tarItem {
		it := tarItem{name: name, e: e, mode: int64(e.Stat.Mode & 0o7777), mtime: time.Unix(e.Stat.Mtim.Unix())}
		if chmod != nil {
			it.mode = *chmod
		}
		owned(&it, e, keep)
		return it
	}
	for _, src := range items {
		// Hard links are kept within one directory source, as BuildKit
		// copies each source on its own.
		links := map[[2]uint64]string{}
		switch {
		case src.data != nil:
			name := dest
			if destDir {
				name = path.Join(dest, src.name)
			}
			it := tarItem{name: res.resolve(name), data: src.data, mode: 0o644, mtime: now}
			if chmod != nil {
				it.mode = *chmod
			}
			owned(&it, nil, false)
			out = append(out, it)
		case src.e.IsDir():
			base := dest
			if sp.parents {
				base = path.Join(dest, src.rel)
			}
			baseR := res.resolveAll(base)
			err := src.fs.Walk(src.e, excl, func(e *buildctx.Entry, sub string) error {
				name := path.Join(baseR, sub)
				if sub == "" {
					// The destination directory is not the source's:
					// an existing one is kept, a new one is made like
					// the missing parents (0755, --chown's owner).
					return nil
				}
				it := fromEntry(name, e, src.owner)
				if e.IsRegular() && e.Stat.Nlink > 1 {
					k := [2]uint64{e.Stat.Dev, e.Stat.Ino}
					if first, ok := links[k]; ok {
						it.link = first
					} else {
						links[k] = name
					}
				}
				out = append(out, it)
				return nil
			})
			if err != nil {
				return nil, err
			}
		default:
			name := dest
			if destDir || res.isDir(dest) {
				name = path.Join(dest, path.Base(src.rel))
				if src.name != "" {
					name = path.Join(dest, src.name)
				}
			}
			if sp.parents {
				name = path.Join(dest, src.rel)
			}
			name = res.resolve(name)
			if sp.add && src.url == "" && (sp.unpack == nil || *sp.unpack) {
				arch, err := readArchive(src.e.Abs)
				if err != nil {
					return nil, err
				}
				if arch != nil {
					d := res.resolveAll(dest)
					for _, a := range arch {
						it := tarItem{name: path.Join(d, a.name), arch: a, mode: a.hdr.Mode & 0o7777, uid: a.hdr.Uid, gid: a.hdr.Gid, mtime: a.hdr.ModTime}
						if a.hdr.Typeflag == tar.TypeLink {
							it.link = path.Join(d, a.hdr.Linkname)
						}
						if chown != nil {
							it.uid, it.gid = chown.uid, chown.gid
						}
						out = append(out, it)
					}
					continue
				}
			}
			it := fromEntry(name, src.e, src.owner)
			if src.url != "" {
				it.mode = 0o600
				if chmod != nil {
					it.mode = *chmod
				}
				it.mtime = time.Unix(src.e.Stat.Mtim.Unix())
			}
			out = append(out, it)
		}
	}
	// Later sources win over earlier ones at the same path.
	seen := map[string]int{}
	var uniq []tarItem
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
	// Missing parents: directories 0755, owned like the copy.
	for _, it := range append([]tarItem{}, uniq...) {
		for p := path.Dir(it.name); p != "." && p != "/"; p = path.Dir(p) {
			if _, ok := seen[p]; ok {
				continue
			}
			if _, err := root.Lstat(p); err == nil {
				break
			}
			d := tarItem{name: p, isDir: true, mode: 0o755, mtime: now}
			owned(&d, nil, false)
			seen[p] = len(uniq)
			uniq = append(uniq, d)
		}
	}
	sort.Slice(uniq, func(i, j int) bool { return uniq[i].name < uniq[j].name })
	fixLinks(uniq)
	return uniq, nil
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

// resolver resolves destination paths against the stage's files.
type resolver struct {
	fs    *buildctx.FS
	cache map[string]string
}

func newResolver(fs *buildctx.FS) *resolver { return &resolver{fs: fs, cache: map[string]string{}} }

// resolveAll follows every symlink of p, the last one too.
func (r *resolver) resolveAll(p string) string {
	if v, ok := r.cache[p]; ok {
		return v
	}
	e, err := r.fs.Stat(p)
	v := "/" + strings.TrimPrefix(p, "/")
	if err == nil {
		v = "/" + e.Rel
	} else {
		// Missing: resolve the parent, keep the name.
		parent := path.Dir(path.Clean("/" + p))
		if parent != "/" && parent != p {
			v = path.Join(r.resolveAll(parent), path.Base(p))
		}
	}
	r.cache[p] = v
	return v
}

// resolve follows the symlinks of p's parents; p itself is replaced.
func (r *resolver) resolve(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return p
	}
	return path.Join(r.resolveAll(path.Dir(p)), path.Base(p))
}

func (r *resolver) isDir(p string) bool {
	e, err := r.fs.Stat(p)
	return err == nil && e.IsDir()
}
