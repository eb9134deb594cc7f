package builder

import (
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
	"github.com/strata-dev/strata/internal/errdefs"
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
	lex := s.b.lex()
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
	if err := checkFromUnexpanded(c.From); err != nil {
		return s.lineErr(c, err)
	}
	if err := s.checkFromStage(c.From); err != nil {
		return s.lineErr(c, err)
	}
	return s.copyStep(ctx, c, copySpec{
		from: c.From, sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
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

// checkFromUnexpanded refuses variables in COPY --from, as BuildKit does:
// the stage graph is known before any stage's ARGs have values.
func checkFromUnexpanded(from string) error {
	res, err := shell.NewLex(parser.DefaultEscapeToken).ProcessWordWithMatches(from, mapEnv{})
	if err != nil {
		return err
	}
	if res.Result != from {
		return fmt.Errorf("variable expansion is not supported for --from %q, define a new stage with FROM using ARG from global scope as a workaround", from)
	}
	return nil
}

// checkFromStage refuses a COPY --from naming this stage or a later one
// (by name or index), as BuildKit does, rather than taking it for an
// image.
func (s *stage) checkFromStage(from string) error {
	if from == "" {
		return nil
	}
	d := s.b.stageByName(from, len(s.b.stages))
	switch {
	case d == nil || d.idx < s.idx:
		return nil
	case d.idx == s.idx:
		return fmt.Errorf("circular dependency detected on stage: %s", from)
	default:
		return fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", from, stageDisplay(s))
	}
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
	v := s.newStep(historyText(c, text)[:len(historyText(c, text))-len(" # buildkit")])
	fail := func(err error) error {
		v.Error(err)
		return s.lineErr(c, err)
	}
	items, excl, wild, err := s.copySources(ctx, sp)
	if err != nil {
		return fail(err)
	}
	dest, destDir, err := s.copyDest(c.Name(), sp, items, wild)
	if err != nil {
		return fail(err)
	}

	// The key: the instruction, the args it mentions, and the checksum of
	// exactly the files it reads.
	sum, fileSums, err := s.checksum(items, excl)
	if err != nil {
		return fail(err)
	}
	files := func() map[string]string {
		files := fileSums()
		for _, it := range items {
			if it.git != nil {
				files[it.git.gitKeyName()] = it.git.commit
			}
		}
		return cache.Summarise(files)
	}
	// COPY --link makes its layer on an empty root, as BuildKit does
	// (not with --chmod, which BuildKit copies the usual way): the key has
	// no parent, so a changed base finds the same layer again.
	link := sp.link && sp.chmod == ""
	if link && chownByName(sp.chown) {
		return fail(fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", sp.chown))
	}
	parent := st.key
	if link {
		parent = ""
	}
	k := cache.Key{Parent: parent, Platform: s.platform.String(), Instruction: text + " -> " + dest, Args: s.usedArgs(text), Sources: sum}
	ls := &layerStep{key: k, files: files, display: text, createdBy: historyText(c, text), v: v, link: link}
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
	dir, err := s.copyRoot(ctx, link)
	if err != nil {
		return fail(err)
	}
	if link {
		defer os.Remove(dir)
	}
	chown, chmod, err := copyOwnerMode(dir, sp)
	if err != nil {
		return fail(err)
	}
	ents, err := s.plan(dir, items, dest, destDir, sp, excl, chown, chmod)
	if err != nil {
		return fail(err)
	}
	l, err := b.writeLayer(b.itemsWriter(ents))
	if err != nil {
		return fail(err)
	}
	s.finish(ls, l)
	return nil
}

// copyRoot is the directory a COPY resolves its destination and --chown
// names in: the stage's files, or for --link a new empty one (removed by
// the caller).
func (s *stage) copyRoot(ctx context.Context, link bool) (string, error) {
	if link {
		return os.MkdirTemp(s.b.tmp, "link-")
	}
	return s.files(ctx)
}

// chownByName reports whether a --chown value names a user or a group
// rather than giving numbers.
func chownByName(chown string) bool {
	if chown == "" {
		return false
	}
	u, g, hasGroup := strings.Cut(chown, ":")
	if _, err := strconv.Atoi(u); err != nil {
		return true
	}
	if _, err := strconv.Atoi(g); hasGroup && err != nil {
		return true
	}
	return false
}

// copySources lists what a COPY or ADD reads: git repositories and URLs
// (ADD), files of the context, of a stage or of an image (--from), with
// wildcards expanded (wild: some were) and --exclude applied, then the
// heredoc contents.
func (s *stage) copySources(ctx context.Context, sp copySpec) (items []srcItem, excl *dockerignore.Matcher, wild bool, err error) {
	// The source: the context, another stage, or an image.
	src := s.b.ctxFS
	keepOwner := false
	if sp.from != "" {
		keepOwner = true
		dir, err := s.fromFS(ctx, sp.from)
		if err != nil {
			return nil, nil, false, err
		}
		src = &buildctx.FS{Root: dir}
	}
	if len(sp.excludes) > 0 {
		m, err := dockerignore.New(sp.excludes)
		if err != nil {
			return nil, nil, false, err
		}
		excl = m
	}
	for _, p := range sp.sources {
		if g, ok, err := parseGitSource(p); sp.add && (ok || err != nil) {
			if err != nil {
				return nil, nil, false, fmt.Errorf("%s: %w", p, err)
			}
			if err := s.resolveGit(ctx, g, sp.keepGit, sp.checksum); err != nil {
				return nil, nil, false, err
			}
			items = append(items, srcItem{git: g})
			continue
		}
		if sp.add && isURL(p) {
			it, err := s.download(ctx, p, sp.checksum)
			if err != nil {
				return nil, nil, false, err
			}
			items = append(items, it)
			continue
		}
		if src == nil {
			// A Dockerfile from stdin (build -) has an empty context,
			// as docker sends one: "." and wildcards copy nothing, a
			// named file is not found.
			if clean := path.Clean("/" + p); clean == "/" || buildctx.HasMeta(p) {
				wild = wild || buildctx.HasMeta(p)
				continue
			}
			return nil, nil, false, fmt.Errorf("%q: not found", path.Clean("/"+p))
		}
		if buildctx.HasMeta(p) {
			wild = true
			ms, err := src.Glob(p)
			if err != nil {
				return nil, nil, false, err
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
				return nil, nil, false, fmt.Errorf("%q: not found", "/"+strings.TrimPrefix(path.Clean("/"+p), "/"))
			}
			return nil, nil, false, err
		}
		items = append(items, srcItem{fs: src, rel: strings.TrimPrefix(path.Clean("/"+p), "/"), e: e, owner: keepOwner})
	}
	for _, sc := range sp.contents {
		items = append(items, srcItem{data: []byte(sc.Data), name: sc.Path})
	}
	return items, excl, wild, nil
}

// copyDest is the step's absolute, clean destination (a relative one is
// under the working directory) and whether it names a directory (written
// so). Several sources need a directory written so: "COPY a b /dest" is
// refused, as the classic builder does (BuildKit writes /dest as the last
// source, moby/buildkit#1853;
// see testdata/conformance/multisrc-dest-no-slash/notes).
func (s *stage) copyDest(instr string, sp copySpec, items []srcItem, wild bool) (dest string, destDir bool, err error) {
	destDir = strings.HasSuffix(sp.dest, "/") || strings.HasSuffix(sp.dest, "/.") || sp.dest == "."
	if !destDir && (len(sp.sources)+len(sp.contents) > 1 || (wild && len(items) > 1)) {
		return "", false, fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", strings.ToUpper(instr))
	}
	dest = sp.dest
	if !path.IsAbs(dest) {
		wd := s.state.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	return path.Clean(dest), destDir, nil
}

// copyOwnerMode reads --chown (names resolved in the stage's files at dir)
// and --chmod (octal only); nil for a flag not given.
func copyOwnerMode(dir string, sp copySpec) (chown *owner, chmod *int64, err error) {
	if sp.chown != "" {
		o, err := resolveOwner(dir, sp.chown, false)
		if err != nil {
			return nil, nil, err
		}
		chown = &o
	}
	if sp.chmod != "" {
		m, err := strconv.ParseUint(sp.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, nil, fmt.Errorf("invalid --chmod %q: only octal modes are supported", sp.chmod)
		}
		mm := int64(m)
		chmod = &mm
	}
	return chown, chmod, nil
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
	if nc, ok := s.b.namedContext(from); ok && nc.Dir != "" { // --build-context
		return nc.Dir, nil
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
