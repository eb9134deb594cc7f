package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/layer"
)

// copySpec is a COPY or ADD with its variables expanded.
type copySpec struct {
	add      bool
	from     string
	sources  []string
	contents []instructions.SourceContent
	dest     string
	chown    string
	chmod    string
	parents  bool
	link     bool
	excludes []string
	checksum string
	unpack   *bool
	keepGit  *bool
}

func (s *stage) expander() func(string) (string, error) {
	lex := shell.NewLex(parser.DefaultEscapeToken)
	env := s.env()
	return func(w string) (string, error) {
		v, _, err := lex.ProcessWord(w, env)
		return v, err
	}
}

func (s *stage) copy(ctx context.Context, c *instructions.CopyCommand) error {
	if err := c.Expand(s.expander()); err != nil {
		return s.lineErr(c, err)
	}
	if err := c.SourcesAndDest.ExpandRaw(s.expander()); err != nil {
		return s.lineErr(c, err)
	}
	from, err := s.expander()(c.From)
	if err != nil {
		return s.lineErr(c, err)
	}
	return s.copyStep(ctx, c, copySpec{
		from: from, sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, parents: c.Parents, link: c.Link, excludes: c.ExcludePatterns,
	})
}

func (s *stage) add(ctx context.Context, c *instructions.AddCommand) error {
	if err := c.Expand(s.expander()); err != nil {
		return s.lineErr(c, err)
	}
	if err := c.SourcesAndDest.ExpandRaw(s.expander()); err != nil {
		return s.lineErr(c, err)
	}
	return s.copyStep(ctx, c, copySpec{
		add: true, sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, link: c.Link, excludes: c.ExcludePatterns,
		checksum: c.Checksum, unpack: c.Unpack, keepGit: c.KeepGitDir,
	})
}

// srcItem is one source a COPY names, after wildcards.
type srcItem struct {
	fs    *buildctx.FS
	rel   string // as named, cleaned, from the source root
	e     *buildctx.Entry
	url   string  // ADD of a URL: the downloaded file in e
	git   *gitSrc // ADD of a git repository, fetched after a cache miss
	data  []byte  // a heredoc
	name  string  // the heredoc's or URL's file name
	owner bool    // keep the source's owner (another stage's files)
}

// tarItem is one entry of the layer a COPY writes.
type tarItem struct {
	name  string // path in the image, relative, resolved
	e     *buildctx.Entry
	data  []byte
	isDir bool // synthetic directory
	mode  int64
	uid   int
	gid   int
	mtime time.Time
	link  string // hard link target (a name of this layer)
	arch  *archiveEntry
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func (s *stage) copyStep(ctx context.Context, c instructions.Command, sp copySpec) error {
	b, st := s.b, s.state
	text := original(c)
	kind := "COPY"
	if sp.add {
		kind = "ADD"
	}
	v := s.newStep(historyText(c, text)[:len(historyText(c, text))-len(" # buildkit")])
	fail := func(err error) error {
		v.Error(err)
		return s.lineErr(c, err)
	}
	// The source: the context, another stage, or an image.
	src := b.ctxFS
	keepOwner := false
	if sp.from != "" {
		keepOwner = true
		dir, err := s.fromFS(ctx, sp.from)
		if err != nil {
			return fail(err)
		}
		src = &buildctx.FS{Root: dir}
	}
	var excl *dockerignore.Matcher
	if len(sp.excludes) > 0 {
		m, err := dockerignore.New(sp.excludes)
		if err != nil {
			return fail(err)
		}
		excl = m
	}
	var items []srcItem
	wild := false
	for _, p := range sp.sources {
		if g, ok, err := parseGitSource(p); sp.add && (ok || err != nil) {
			if err != nil {
				return fail(fmt.Errorf("%s: %w", p, err))
			}
			if err := s.resolveGit(ctx, g, sp.keepGit, sp.checksum); err != nil {
				return fail(err)
			}
			items = append(items, srcItem{git: g})
			continue
		}
		if sp.add && isURL(p) {
			it, err := s.download(ctx, p, sp.checksum)
			if err != nil {
				return fail(err)
			}
			items = append(items, it)
			continue
		}
		if src == nil {
			return fail(errors.New("no build context: COPY and ADD need one (give a directory, not -)"))
		}
		if buildctx.HasMeta(p) {
			wild = true
			ms, err := src.Glob(p)
			if err != nil {
				return fail(err)
			}
			for _, m := range ms {
				e, err := src.Stat(m)
				if err != nil {
					continue
				}
				if ex, _ := excl.Excluded(m); ex {
					continue
				}
				items = append(items, srcItem{fs: src, rel: m, e: e, owner: keepOwner})
			}
			continue
		}
		e, err := src.Stat(p)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return fail(fmt.Errorf("%q: not found", "/"+strings.TrimPrefix(path.Clean("/"+p), "/")))
			}
			return fail(err)
		}
		items = append(items, srcItem{fs: src, rel: strings.TrimPrefix(path.Clean("/"+p), "/"), e: e, owner: keepOwner})
	}
	for _, sc := range sp.contents {
		items = append(items, srcItem{data: []byte(sc.Data), name: sc.Path})
	}
	destDir := strings.HasSuffix(sp.dest, "/") || strings.HasSuffix(sp.dest, "/.") || sp.dest == "." ||
		len(sp.sources)+len(sp.contents) > 1 || (wild && len(items) > 1)
	dest := sp.dest
	if !path.IsAbs(dest) {
		wd := st.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	dest = path.Clean(dest)

	// The key: the instruction, the args it mentions, and the checksum of
	// exactly the files it reads.
	sum, files, err := s.checksum(items, excl)
	if err != nil {
		return fail(err)
	}
	for _, it := range items {
		if it.git != nil {
			files[it.git.gitKeyName()] = it.git.commit
		}
	}
	k := cache.Key{Parent: st.key, Platform: s.platform.String(), Instruction: text + " -> " + dest, Args: s.usedArgs(text), Sources: sum, Files: cache.Summarise(files)}
	ls := &layerStep{key: k, display: text, createdBy: historyText(c, text), v: v}
	if hit, err := s.lookup(ls); err != nil || hit {
		return err
	}
	for i, it := range items {
		if it.git != nil {
			fetched, err := s.fetchGit(ctx, it.git)
			if err != nil {
				return fail(err)
			}
			items[i] = fetched
		}
	}
	dir, err := s.files(ctx)
	if err != nil {
		return fail(err)
	}
	var chown *owner
	if sp.chown != "" {
		o, err := resolveOwner(dir, sp.chown, false)
		if err != nil {
			return fail(err)
		}
		chown = &o
	}
	var chmod *int64
	if sp.chmod != "" {
		m, err := strconv.ParseUint(sp.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fail(fmt.Errorf("invalid --chmod %q: only octal modes are supported", sp.chmod))
		}
		mm := int64(m)
		chmod = &mm
	}
	ents, err := s.plan(dir, items, dest, destDir, sp, excl, chown, chmod)
	if err != nil {
		return fail(err)
	}
	l, err := b.writeLayer(b.itemsWriter(ents))
	if err != nil {
		return fail(err)
	}
	_ = kind
	s.finish(ls, l)
	return nil
}

// fromFS returns the files of a COPY --from source: a stage, or an image.
func (s *stage) fromFS(ctx context.Context, from string) (string, error) {
	if d := s.b.stageByName(from, s.idx); d != nil {
		// The stage is finished (it is a dependency): its files are
		// read-only from here on, shared by every reader.
		d.fsMu.Lock()
		defer d.fsMu.Unlock()
		return d.files(ctx)
	}
	im, _, err := s.b.baseImage(ctx, from, s.b.target, "[internal] load "+from)
	if err != nil {
		return "", err
	}
	r, err := s.b.mountView(ctx, im.Layers)
	if r != nil {
		s.b.mu.Lock()
		s.b.views = append(s.b.views, r)
		s.b.mu.Unlock()
	}
	if err != nil {
		return "", err
	}
	return r.dir, nil
}

// checksum hashes the sources: for each file its path, type, mode,
// owner, link target and content (files in parallel on every core, through
// the stat cache), in a fixed order. It also returns one short checksum
// per path for explaining a miss.
func (s *stage) checksum(items []srcItem, excl *dockerignore.Matcher) (string, map[string]string, error) {
	type fileRef struct {
		fs *buildctx.FS
		e  *buildctx.Entry
	}
	var refs []fileRef
	var names []string
	addEntry := func(fs *buildctx.FS, name string, e *buildctx.Entry) {
		names = append(names, name)
		refs = append(refs, fileRef{fs, e})
	}
	for _, it := range items {
		switch {
		case it.data != nil:
			addEntry(nil, "<<"+it.name, nil)
			sum := sha256.Sum256(it.data)
			refs[len(refs)-1].e = &buildctx.Entry{Rel: hex.EncodeToString(sum[:])}
		case it.git != nil:
			addEntry(nil, it.git.gitKeyName(), &buildctx.Entry{Rel: gitSourceSum(it.git)})
		case it.url != "":
			addEntry(nil, it.url, it.e)
		case it.e.IsDir():
			err := it.fs.Walk(it.e, excl, func(e *buildctx.Entry, sub string) error {
				addEntry(it.fs, path.Join(it.rel, sub), e)
				return nil
			})
			if err != nil {
				return "", nil, err
			}
		default:
			addEntry(it.fs, it.rel, it.e)
		}
	}
	sums := make([][32]byte, len(refs))
	var firstErr error
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := refs[i]
				if r.e == nil || !r.e.IsRegular() {
					continue
				}
				fs := r.fs
				if fs == nil {
					fs = &buildctx.FS{}
				}
				sum, err := fs.FileSum(r.e)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				sums[i] = sum
			}
		}()
	}
	for i := range refs {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return "", nil, firstErr
	}
	h := sha256.New()
	files := map[string]string{}
	for i, r := range refs {
		var line string
		if r.e == nil || r.fs == nil && r.e.Abs == "" {
			line = fmt.Sprintf("%s\x00data\x00%s", names[i], r.e.Rel)
		} else {
			e := r.e
			var link string
			if e.IsSymlink() {
				link, _ = os.Readlink(e.Abs)
			}
			typ := e.Stat.Mode & unix.S_IFMT
			line = fmt.Sprintf("%s\x00%o\x00%o\x00%d:%d\x00%s\x00%x", names[i], typ, e.Stat.Mode&0o7777, e.Stat.Uid, e.Stat.Gid, link, sums[i])
		}
		h.Write([]byte(line))
		h.Write([]byte{0})
		ls := sha256.Sum256([]byte(line))
		files[names[i]] = hex.EncodeToString(ls[:8])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), files, nil
}

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

// itemsWriter is the fill function of writeLayer for planned entries.
func (b *builder) itemsWriter(items []tarItem) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := b.writeItems(tw, items); err != nil {
			return err
		}
		return tw.Close()
	}
}

// writeItems writes the planned entries.
func (b *builder) writeItems(tw *tar.Writer, items []tarItem) error {
	clamp := func(t time.Time) time.Time {
		t = t.Truncate(time.Second)
		if b.o.Timestamp != nil && t.After(*b.o.Timestamp) {
			return b.o.Timestamp.Truncate(time.Second)
		}
		return t
	}
	for _, it := range items {
		hdr := &tar.Header{Name: it.name, Mode: it.mode, Uid: it.uid, Gid: it.gid, ModTime: clamp(it.mtime), Format: tar.FormatPAX}
		var body io.Reader
		switch {
		case it.isDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, it.name+"/"
		case it.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, it.link
		case it.data != nil:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(it.data))
			body = bytes.NewReader(it.data)
		case it.arch != nil:
			a := it.arch
			hdr.Typeflag, hdr.Linkname, hdr.Size = a.hdr.Typeflag, a.hdr.Linkname, a.hdr.Size
			hdr.Devmajor, hdr.Devminor = a.hdr.Devmajor, a.hdr.Devminor
			if hdr.Typeflag == tar.TypeDir {
				hdr.Name += "/"
			}
			//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
			if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
				hdr.Typeflag = tar.TypeReg
				body = bytes.NewReader(nil)
				if a.open != nil {
					rc, err := a.open()
					if err != nil {
						return err
					}
					body = &closingReader{rc, rc}
				}
			}
		default:
			e := it.e
			switch e.Stat.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				hdr.Typeflag, hdr.Size = tar.TypeReg, e.Stat.Size
				f, err := os.Open(e.Abs)
				if err != nil {
					return err
				}
				body = &closingReader{io.LimitReader(f, e.Stat.Size), f}
			case unix.S_IFDIR:
				hdr.Typeflag, hdr.Name = tar.TypeDir, it.name+"/"
			case unix.S_IFLNK:
				t, err := os.Readlink(e.Abs)
				if err != nil {
					return err
				}
				hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, t
			case unix.S_IFIFO:
				hdr.Typeflag = tar.TypeFifo
			case unix.S_IFCHR, unix.S_IFBLK:
				hdr.Typeflag = tar.TypeChar
				if e.Stat.Mode&unix.S_IFMT == unix.S_IFBLK {
					hdr.Typeflag = tar.TypeBlock
				}
				hdr.Devmajor, hdr.Devminor = int64(unix.Major(e.Stat.Rdev)), int64(unix.Minor(e.Stat.Rdev))
			default:
				continue // sockets
			}
		}
		// USTAR when it can hold the header, as docker writes.
		hdr.Format = tar.FormatUnknown
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", it.name, err)
		}
		if body != nil {
			n, err := io.Copy(tw, body)
			if c, ok := body.(*closingReader); ok {
				c.c.Close()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", it.name, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("%s: file changed size while being read", it.name)
			}
		}
	}
	return nil
}

// closingReader is a file's content, closed once copied (not deferred: a
// layer may hold more files than a process may keep open).
type closingReader struct {
	io.Reader
	c io.Closer
}

// archiveEntry is one entry of a local archive ADD extracts.
type archiveEntry struct {
	name string
	hdr  *tar.Header
	open func() (io.ReadCloser, error)
}

// readArchive lists a local tar (plain, gzip, bzip2 or xz... as layer
// reads them) that ADD extracts; nil if the file is not an archive. The
// contents are read again from the file when written, so a big archive is
// not held in memory.
func readArchive(file string) ([]*archiveEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := layer.Decompress(f)
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	tr := tar.NewReader(r)
	var out []*archiveEntry
	idx := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if idx == 0 {
				return nil, nil // not a tar: copied as a file
			}
			return nil, fmt.Errorf("ADD %s: %w", filepath.Base(file), err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if err := layer.CheckName(hdr.Name); err != nil || name == "" {
			idx++
			continue
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		n := idx
		out = append(out, &archiveEntry{name: name, hdr: hdr, open: func() (io.ReadCloser, error) { return archiveMember(file, n) }})
		idx++
	}
	if idx == 0 {
		return nil, nil
	}
	return out, nil
}

// archiveMember opens the content of the n-th entry of an archive.
func archiveMember(file string, n int) (io.ReadCloser, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	r, _, err := layer.Decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		if _, err := tr.Next(); err != nil {
			r.Close()
			f.Close()
			return nil, err
		}
		if i == n {
			return struct {
				io.Reader
				io.Closer
			}{tr, multiCloser{r, f}}, nil
		}
	}
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	for _, c := range m {
		c.Close()
	}
	return nil
}
