// Package build turns a Dockerfile into an image: buildkit's Dockerfile
// parser, instructions and shell lexer give the grammar; stages form a
// graph of which only what the target needs is built, independent stages
// in parallel; each filesystem-changing instruction becomes one layer
// (COPY and ADD written straight from the context as a tar, RUN run in a
// container on the stage's filesystem), each other one a history entry;
// and a cache keyed by explicit, typed inputs (see package cache) skips
// every unchanged step and says why a step missed.
package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/sandbox"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// Options describe one build.
type Options struct {
	// ContextDir is the build context ("" for none: a Dockerfile from
	// stdin without context).
	ContextDir string
	// Dockerfile is the Dockerfile's text; DockerfilePath where it was
	// read from (for Dockerfile.dockerignore and messages, "" if stdin).
	Dockerfile     []byte
	DockerfilePath string
	Target         string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	Labels    map[string]string
	Tags      []image.Reference
	NoCache   bool
	// NoCacheFilter names stages built without the cache.
	NoCacheFilter []string
	// Pull pulls every base image even if present.
	Pull bool
	// Network of RUN steps: "host" (default) or "none".
	Network string
	// Sandbox confines RUN steps: its zero value is docker's defaults
	// (capabilities, seccomp profile, masked paths), as BuildKit's RUN
	// has them; the cli sets ExtraHosts, Ulimits and ShmSize (--add-host,
	// --ulimit, --shm-size), which are part of each RUN's cache key.
	Sandbox sandbox.Options
	// Platform is the target platform, OS/ARCH[/VARIANT] ("" = this
	// machine's). Given, it is also the image's, as BuildKit writes it.
	Platform string
	// Secrets maps a secret ID to the file that holds it.
	Secrets map[string]string
	// SSH maps an agent ID (RUN --mount=type=ssh,id=) to the agent socket
	// forwarded to it (--ssh; see ParseSSH).
	SSH map[string]string
	// Contexts are the --build-context names (lower-cased; ParseContexts).
	Contexts map[string]NamedContext
	// Timestamp, when set, is every time the build writes (history,
	// created, file times clamped), for reproducible images.
	Timestamp   *time.Time
	Compression layer.Compression
	Level       int
	// KeepRunLayers keeps a RUN step's layer only as the snapshot its
	// command ran in (store.OpenBlob writes its tar when it is read: push
	// gzips it then) instead of writing it again as a compressed blob.
	// The CLI sets it unless --compression is given.
	KeepRunLayers bool
	// ExplainCache prints why each missed step missed.
	ExplainCache bool
	Progress     *progress.Printer
	// Puller fetches a base image missing from the store, or there only
	// for another platform (the registry client); nil makes a missing
	// base an error.
	Puller func(ctx context.Context, req PullRequest) (*metadata.Image, error)
	// Runtime is the OCI runtime binary for RUN ("" = runtime.Find's
	// choice: $STRATA_RUNTIME, else crun, else runc).
	Runtime string
	// Executor runs RUN commands (nil: the OCI executor on Runtime, as
	// `strata run` runs containers; tests give a fake).
	Executor executor.Executor
	// Now is the clock (tests fix it).
	Now func() time.Time
	// CacheFrom are caches looked in after the store's own
	// (--cache-from); see RemoteCache.
	CacheFrom []RemoteCache
	// CacheExport, when set, receives the build's cache records after it
	// succeeded (--cache-to); CacheExportAll gives it every built stage's
	// (mode=max), not only the target image's layers (mode=min).
	CacheExport    CacheExport
	CacheExportAll bool
	// Output, when set, receives the image instead of the store
	// (--output): nothing is stored or named.
	Output Output
	// Squash merges layers of the target image into one once it is built
	// (--squash, --squash-all); every step is cached as in any build.
	Squash Squash
	// labelPlatform puts the target platform in each step's label (a
	// build of several platforms, BuildPlatforms).
	labelPlatform bool
}

// PullRequest is a base image a build needs from a registry.
type PullRequest struct {
	Ref string
	// Platform is the one the image must be for (normalized
	// OS/ARCH[/VARIANT]): the manifest of an index is picked for it, and
	// an image that is not an index but whose config states another
	// platform is refused (with no layer fetched and nothing named), as
	// BuildKit refuses it ("no match for platform in manifest").
	Platform string
	// Name says whether the pulled image gets Ref as its name: only an
	// image for this machine's platform does, so that a name keeps meaning
	// the image that runs here.
	Name bool
}

// Result is what a build made.
type Result struct {
	ImageID digest.Digest
	// Manifest is the image manifest's digest, ManifestSize its size.
	Manifest     digest.Digest
	ManifestSize int64
	// Cached and Built count the steps that hit and missed the cache.
	Cached, Built int
}

// builder is the state of one build.
type builder struct {
	st     *store.Store
	o      Options
	cache  *cache.Cache
	prog   *progress.Printer
	tmp    string
	ctxFS  *buildctx.FS
	start  time.Time
	stages []*stage
	meta   map[string]string // global (meta) args in scope, with values
	multi  bool              // the Dockerfile has several stages
	escape rune              // the escape directive's character (\\ or `)
	// target is the platform built for; explicit when --platform named
	// it (then the image states it whatever its base said).
	target   image.Platform
	explicit bool

	// snapshots (opened on first need) and the views mounted for COPY
	// --from images, released at the end.
	snOnce sync.Once
	sn     snapshot.Snapshotter
	snErr  error
	views  []*rootfs

	mu       sync.Mutex
	records  map[string]*cache.Record // all records, loaded for explaining
	origin   string                   // this build's Dockerfile and target (cache.Record.Origin)
	newRecs  []*cache.Record
	hits     []string
	cached   int
	built    int
	usedArgs map[string]bool

	remote remoteState // remote cache hits, fetched on need
}

// Build runs a build and commits its image; the image is tagged only once
// everything succeeded.
func Build(ctx context.Context, st *store.Store, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = progress.New(nil, progress.Quiet)
	}
	if o.Network == "" {
		o.Network = "host"
	}
	target, err := parsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	explicit := o.Platform != ""
	o.Platform = target.String()
	lock, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	b := &builder{st: st, o: o, cache: &cache.Cache{DB: st.Meta}, prog: o.Progress, start: o.Now().UTC(), usedArgs: map[string]bool{},
		target: target, explicit: explicit}
	if o.Timestamp != nil {
		b.start = o.Timestamp.UTC()
	}
	b.origin = buildOrigin(o)
	tmpRoot := st.Path(store.BuildTmp)
	if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
		return nil, err
	}
	if b.tmp, err = os.MkdirTemp(tmpRoot, "build-"); err != nil {
		return nil, err
	}
	defer b.cleanup()
	res, err := b.run(ctx)
	// The steps that succeeded are cached even when a later one failed,
	// so that fixing the failing step does not redo the others.
	if perr := b.saveRecords(); perr != nil && err == nil {
		err = perr
	}
	if b.ctxFS != nil && b.ctxFS.Sums != nil {
		b.ctxFS.Sums.Save()
	}
	return res, err
}

func (b *builder) cleanup() {
	for _, r := range b.views {
		r.release()
	}
	for _, s := range b.stages {
		if s.state != nil {
			s.state.release()
		}
	}
	os.RemoveAll(b.tmp)
}

func (b *builder) saveRecords() error {
	b.mu.Lock()
	recs, hits := b.newRecs, b.hits
	b.mu.Unlock()
	return b.cache.Save(recs, hits, b.o.Now().UTC())
}

// ParseError is a Dockerfile that does not parse; it names the line.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}
func (e *ParseError) Unwrap() error { return e.Err }

func (b *builder) dockerfileName() string {
	if b.o.DockerfilePath == "" {
		return "Dockerfile"
	}
	return filepath.Base(b.o.DockerfilePath)
}

// Parse parses a Dockerfile into its stages and global ARGs; the parser's
// result holds the AST and the escape character its directive chose.
func Parse(name string, text []byte) ([]instructions.Stage, []instructions.ArgCommand, *parser.Result, error) {
	res, err := parser.Parse(bytes.NewReader(text))
	if err != nil {
		pe := parseError(name, err).(*ParseError)
		if pe.Line == 0 {
			pe.Line = failingLine(text, err)
		}
		return nil, nil, nil, pe
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, nil, nil, instructionError(name, res.AST, err)
	}
	if len(stages) == 0 {
		return nil, nil, nil, &ParseError{File: name, Err: errors.New("the Dockerfile has no FROM instruction")}
	}
	return stages, metaArgs, res, nil
}

// failingLine finds the line of a parser error that carries none (ENV or
// LABEL without "=" value): the fewest first lines of the Dockerfile that
// fail the same way end there. 0 when no prefix does.
func failingLine(text []byte, err error) int {
	lines := bytes.SplitAfter(text, []byte("\n"))
	n := 0
	for i, l := range lines {
		n += len(l)
		if _, e := parser.Parse(bytes.NewReader(text[:n])); e != nil && e.Error() == err.Error() {
			return i + 1
		}
	}
	return 0
}

// instructionError names the line of an instruction buildkit's
// instructions.Parse refused: some of its errors carry no location, so
// the instruction is found again, parsing one node at a time (the first
// that fails, or, for an instruction before any FROM, the first that is
// not an ARG).
func instructionError(name string, ast *parser.Node, err error) error {
	pe, ok := parseError(name, err).(*ParseError)
	if !ok || pe.Line > 0 {
		return pe
	}
	seenFrom := false
	for _, n := range ast.Children {
		cmd := strings.ToLower(n.Value)
		if _, e := instructions.ParseInstruction(n); e != nil {
			pe.Line = n.StartLine
			return pe
		}
		if !seenFrom && cmd != "arg" && cmd != "from" {
			pe.Line = n.StartLine
			return pe
		}
		seenFrom = seenFrom || cmd == "from"
	}
	return pe
}

// parseError turns buildkit's errors, which carry the location as data,
// into one line naming the line.
func parseError(name string, err error) error {
	line := 0
	var loc interface{ Location() []parser.Range }
	if errors.As(err, &loc) && len(loc.Location()) > 0 {
		line = loc.Location()[0].Start.Line
	}
	msg := err.Error()
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		rest := msg[i+len("dockerfile parse error on line "):]
		if j := strings.Index(rest, ": "); j > 0 {
			if n, e := strconv.Atoi(rest[:j]); e == nil {
				line, msg = n, rest[j+2:]
			}
		}
	}
	return &ParseError{File: name, Line: line, Err: errors.New(msg)}
}

func (b *builder) run(ctx context.Context) (*Result, error) {
	name := b.dockerfileName()
	stages, metaArgs, res, err := Parse(name, b.o.Dockerfile)
	if err != nil {
		return nil, err
	}
	b.multi = len(stages) > 1
	b.escape = res.EscapeToken
	lex := b.lex()
	if err := b.globalArgs(name, metaArgs, lex); err != nil {
		return nil, err
	}
	for i := range stages {
		s := &stage{b: b, idx: i, def: stages[i], done: make(chan struct{})}
		s.name = strings.ToLower(stages[i].Name)
		base, _, err := lex.ProcessWord(stages[i].BaseName, mapEnv(b.meta))
		if err != nil {
			return nil, &ParseError{File: name, Line: line(stages[i].Location), Err: err}
		}
		s.baseName = base
		b.stages = append(b.stages, s)
	}
	target := b.stages[len(b.stages)-1]
	if b.o.Target != "" {
		target = b.stageByName(b.o.Target, len(b.stages))
		if target == nil {
			return nil, fmt.Errorf("target stage %q could not be found", b.o.Target)
		}
	}
	needed, err := neededStages(target)
	if err != nil {
		return nil, err
	}
	if b.o.ContextDir != "" {
		if err := b.openContext(); err != nil {
			return nil, err
		}
	}
	if err := b.buildStages(ctx, needed); err != nil {
		return nil, err
	}
	im, err := b.commit(ctx, target)
	if err != nil {
		return nil, err
	}
	if err := b.exportCache(ctx, target); err != nil {
		return nil, err
	}
	return &Result{ImageID: im.ID, Manifest: im.Manifest.Digest, ManifestSize: im.Manifest.Size, Cached: b.cached, Built: b.built}, nil
}

// lex expands variables as the Dockerfile's escape directive says.
func (b *builder) lex() *shell.Lex {
	if b.escape == 0 {
		return shell.NewLex(parser.DefaultEscapeToken)
	}
	return shell.NewLex(b.escape)
}

// globalArgs sets b.meta: the platform args BuildKit predefines, then the
// ARGs before the first FROM, overridden by --build-arg.
func (b *builder) globalArgs(name string, metaArgs []instructions.ArgCommand, lex *shell.Lex) error {
	b.meta = platformArgs(b.target, hostPlatform())
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			v, ok := b.o.BuildArgs[kv.Key]
			if !ok && kv.Value != nil {
				w, _, err := lex.ProcessWord(*kv.Value, mapEnv(b.meta))
				if err != nil {
					return &ParseError{File: name, Line: line(a.Location()), Err: err}
				}
				v, ok = w, true
			}
			// Without a value, a global ARG changes nothing (a
			// predefined one keeps its value), as in current BuildKit.
			if ok {
				b.meta[kv.Key] = v
				b.usedArgs[kv.Key] = true
			}
		}
	}
	return nil
}

// neededStages is the graph: the indexes of the stages the target needs
// (only those are built).
func neededStages(target *stage) (map[int]bool, error) {
	needed := map[int]bool{}
	var visit func(s *stage) error
	visit = func(s *stage) error {
		if needed[s.idx] {
			return nil
		}
		needed[s.idx] = true
		for _, d := range s.deps() {
			if err := visit(d); err != nil {
				return err
			}
		}
		return nil
	}
	return needed, visit(target)
}

// buildStages builds the needed stages in parallel, each once the stages
// it depends on are done; the first failure cancels the rest. It returns
// the first real error in stage order.
func (b *builder) buildStages(ctx context.Context, needed map[int]bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range b.stages {
		if !needed[s.idx] {
			continue
		}
		wg.Add(1)
		go func(s *stage) {
			defer wg.Done()
			defer close(s.done)
			for _, d := range s.deps() {
				select {
				case <-d.done:
				case <-ctx.Done():
					s.err = ctx.Err()
					return
				}
				if d.err != nil {
					s.err = errDependency
					return
				}
			}
			if s.err = s.build(ctx); s.err != nil {
				cancel()
			}
		}(s)
	}
	wg.Wait()
	// The first real error, in stage order, is the build's.
	for _, s := range b.stages {
		if s.err != nil && !errors.Is(s.err, errDependency) && !errors.Is(s.err, context.Canceled) {
			return s.err
		}
	}
	for _, s := range b.stages {
		if s.err != nil {
			return s.err
		}
	}
	return nil
}

var errDependency = errors.New("a stage this one needs failed")

func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// stageByName finds a stage by name or index among the stages before
// limit.
func (b *builder) stageByName(n string, limit int) *stage {
	n = strings.ToLower(n)
	for _, s := range b.stages[:limit] {
		if s.name != "" && s.name == n {
			return s
		}
	}
	if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < limit {
		return b.stages[i]
	}
	return nil
}

func (b *builder) openContext() error {
	abs, err := filepath.Abs(b.o.ContextDir)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("unable to prepare context: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("unable to prepare context: %s is not a directory", b.o.ContextDir)
	}
	v := b.prog.Vertex("[internal] load .dockerignore")
	patterns, _, err := dockerignore.Load(abs, b.o.DockerfilePath)
	if err != nil {
		v.Error(err)
		return err
	}
	m, err := dockerignore.New(patterns)
	if err != nil {
		v.Error(err)
		return err
	}
	v.Done()
	sumFile := filepath.Join(b.st.Path(store.BuildContexts), digest.FromString(abs).Encoded()[:32])
	b.ctxFS = &buildctx.FS{Root: abs, Ignore: m, Sums: buildctx.OpenStatCache(sumFile)}
	return nil
}

// commit writes the target stage's image and tags it: the single commit
// point, after every step succeeded.
func (b *builder) commit(ctx context.Context, s *stage) (*metadata.Image, error) {
	v := b.prog.Vertex("exporting to image")
	st := s.state
	// Remote cache hits: the image needs their bytes now.
	if err := b.ensureLayers(ctx, st.layers); err != nil {
		v.Error(err)
		return nil, err
	}
	cfg := st.cfg
	for k, val := range b.o.Labels {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		cfg.Config.Labels[k] = val
	}
	// The image's time is its newest step's, so that a rebuild from the
	// cache gives the same image ID.
	created := st.created
	cfg.Created = &created
	cfg.History = append(append([]ocispec.History{}, cfg.History...), st.history...)
	// With --platform, the image is for the target platform whatever its
	// last stage was built on (FROM --platform=$BUILDPLATFORM), as
	// BuildKit writes it; without, it is its base's.
	if have := (image.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}); b.explicit && !b.target.Runs(have) {
		cfg.OS, cfg.Architecture, cfg.Variant = b.target.OS, b.target.Architecture, b.target.Variant
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	for _, l := range st.layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
	}
	layers := st.layers
	if b.o.Squash != NoSquash {
		sq, sqLayers, err := b.squash(ctx, v, &cfg, layers, st.baseLayers, created)
		if err != nil {
			v.Error(err)
			return nil, err
		}
		cfg, layers = *sq, sqLayers
	}
	if b.o.Output != nil {
		return b.export(ctx, v, &cfg, layers)
	}
	// A rebuild from the cache makes the same config: if that image is
	// in the store and every tag points at it already, nothing is written
	// (a metadata write costs an fsync, most of a cached build's time).
	if im := b.existing(&cfg); im != nil {
		v.Note("writing image " + im.ID.String() + " done (unchanged)")
		v.Done()
		return im, nil
	}
	var steps []store.NewLayer
	for i := range layers {
		l := layers[i]
		steps = append(steps, store.NewLayer{Blob: &l})
	}
	im, err := b.st.NewImage(store.NewImageOptions{
		Steps:   steps,
		Created: &created,
		Config: func(c *image.ConfigFile) error {
			rootfs := c.RootFS
			*c = cfg
			c.RootFS = rootfs
			return nil
		},
		Names: b.o.Tags,
	})
	if err != nil {
		v.Error(err)
		return nil, err
	}
	v.Note("writing image " + im.ID.String() + " done")
	for _, t := range b.o.Tags {
		v.Note("naming to " + t.String() + " done")
	}
	v.Done()
	return im, nil
}

// existing returns the stored image with exactly this config when every
// tag of the build names it already.
func (b *builder) existing(cfg *image.ConfigFile) *metadata.Image {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil
	}
	im, err := b.st.Image(digest.FromBytes(raw))
	if err != nil {
		return nil
	}
	for _, t := range b.o.Tags {
		named, err := b.st.Resolve(t.String())
		if err != nil || named.ID != im.ID {
			return nil
		}
	}
	return im
}

// platformArgs are the ARGs BuildKit defines in the global scope: the
// target platform and the build machine's, normalized as BuildKit prints
// them (linux/arm64, linux/arm/v7).
func platformArgs(target, build image.Platform) map[string]string {
	return map[string]string{
		"TARGETPLATFORM": target.String(), "TARGETOS": target.OS, "TARGETARCH": target.Architecture, "TARGETVARIANT": target.Variant,
		"BUILDPLATFORM": build.String(), "BUILDOS": build.OS, "BUILDARCH": build.Architecture, "BUILDVARIANT": build.Variant,
	}
}

// mapEnv is a shell.EnvGetter over a map.
type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// buildOrigin names the Dockerfile and target of a build (cache.Record.
// Origin): the Dockerfile's absolute path, or for one read from stdin the
// context's, "-" with none.
func buildOrigin(o Options) string {
	p := o.DockerfilePath
	if p == "" && o.ContextDir != "" {
		p = filepath.Join(o.ContextDir, "(stdin)")
	}
	if p == "" {
		return "-#" + o.Target
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p + "#" + o.Target
}
