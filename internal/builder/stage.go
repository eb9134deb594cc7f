package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/store"
)

// stage is one FROM ... section of the Dockerfile.
type stage struct {
	b        *builder
	idx      int
	def      instructions.Stage
	name     string // lower-cased, "" if unnamed
	baseName string // FROM's argument, expanded
	// platform is what the stage is built for: FROM --platform, the
	// stage it is FROM, or the build's target.
	platform image.Platform
	done     chan struct{}
	err      error
	state    *state
	// fsMu serialises the stages that read this one's files (COPY
	// --from) while they are made.
	fsMu sync.Mutex
}

// state is a stage's image as its steps build it.
type state struct {
	cfg     image.ConfigFile
	layers  []metadata.Layer
	history []ocispec.History // entries added by this build
	created time.Time         // time of the newest step
	key     string            // key digest of the last step
	chain   []link            // the keys so far, to explain a miss
	missed  bool              // a step missed: the rest of the stage runs
	noCache bool
	args    map[string]string // ARGs declared in the stage, with values
	argSeen map[string]bool
	// inherited are the ARG values of the stages this one is FROM: still
	// in env, so inputs of its steps.
	inherited map[string]string
	// env is what BuildKit's LLB state holds: the base's Env, then each
	// ENV and each ARG with a value (an ARG overrides an ENV of the same
	// name here, not in the image's config). Variables expand from it and
	// it is RUN's environment; a stage FROM this one starts with it.
	env []string
	// cmdSet: this stage set CMD, so ENTRYPOINT keeps it (it resets only
	// a CMD that came from the base).
	cmdSet bool
	fs     *rootfs // the stage's files, made on first need
	step   int     // displayed step number
	steps  int     // displayed step count
	// recs are the records of the layers made or found by the steps so
	// far (those of a FROM stage included): what --cache-to exports.
	recs []*cache.Record
	// baseLayers is how many of layers came from the base image (or
	// scratch) this stage's chain of FROMs starts at: those --squash keeps
	// as they are. A stage FROM another stage inherits it, so the layers
	// that stage made are squashed too: no other image shares them.
	baseLayers int
}

// link is one key of a stage's chain.
type link struct {
	key   cache.Key
	kd    string
	label string
	base  bool
}

func (s *state) release() {
	if s.fs != nil {
		s.fs.release()
		s.fs = nil
	}
}

// clone copies a finished stage's state for a stage built FROM it.
func (s *state) clone() *state {
	n := *s
	n.layers = append([]metadata.Layer{}, s.layers...)
	n.history = append([]ocispec.History{}, s.history...)
	n.recs = append([]*cache.Record{}, s.recs...)
	n.chain = nil
	n.fs = nil
	n.inherited = s.keyArgs()
	n.args = map[string]string{}
	n.argSeen = map[string]bool{}
	n.env = append([]string{}, s.env...)
	n.cmdSet = false
	n.cfg = cloneConfig(s.cfg)
	return &n
}

func cloneConfig(c image.ConfigFile) image.ConfigFile {
	c.Config.Env = append([]string{}, c.Config.Env...)
	c.Config.Labels = maps.Clone(c.Config.Labels)
	c.Config.ExposedPorts = maps.Clone(c.Config.ExposedPorts)
	c.Config.Volumes = maps.Clone(c.Config.Volumes)
	c.Config.OnBuild = append([]string(nil), c.Config.OnBuild...)
	c.History = append([]ocispec.History{}, c.History...)
	c.RootFS.DiffIDs = append(c.RootFS.DiffIDs[:0:0], c.RootFS.DiffIDs...)
	return c
}

// deps are the stages this one needs: its base, COPY --from and RUN
// --mount from= sources that name a stage.
func (s *stage) deps() []*stage {
	var out []*stage
	add := func(n string) {
		if n == "" {
			return
		}
		if d := s.b.stageByName(n, s.idx); d != nil {
			for _, o := range out {
				if o == d {
					return
				}
			}
			out = append(out, d)
		}
	}
	add(s.baseName)
	lex := s.b.lex()
	expand := func(w string) string {
		v, _, err := lex.ProcessWord(w, mapEnv(s.b.meta))
		if err != nil {
			return w
		}
		return v
	}
	for _, c := range s.def.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			add(c.From) // never expanded (checkFromUnexpanded)
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				add(expand(m.From))
			}
		}
	}
	return out
}

func (s *stage) label() string {
	st := s.state
	prefix := ""
	if s.b.o.labelPlatform {
		prefix = s.b.target.String() + " " // one of several targets, as BuildKit labels them
	}
	if s.b.multi {
		n := s.name
		if n == "" {
			n = fmt.Sprintf("stage-%d", s.idx)
		}
		return fmt.Sprintf("[%s%s %d/%d]", prefix, n, st.step, st.steps)
	}
	return fmt.Sprintf("[%s%d/%d]", prefix, st.step, st.steps)
}

// build runs the stage's steps.
func (s *stage) build(ctx context.Context) error {
	b := s.b
	steps := 1
	for _, c := range s.def.Commands {
		switch c.(type) {
		case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
			steps++
		}
	}
	noCache := b.o.NoCache
	for _, f := range b.o.NoCacheFilter {
		if strings.EqualFold(f, s.name) || f == fmt.Sprint(s.idx) {
			noCache = true
		}
	}
	if err := s.from(ctx, steps, noCache); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return err
		}
		return &ParseError{File: b.dockerfileName(), Line: line(s.def.Location), Err: err}
	}
	// ONBUILD triggers of the base run first, then are cleared.
	if triggers := s.state.cfg.Config.OnBuild; len(triggers) > 0 {
		s.state.cfg.Config.OnBuild = nil
		for _, t := range triggers {
			res, err := parser.Parse(strings.NewReader(t))
			if err != nil {
				return fmt.Errorf("ONBUILD trigger %q: %w", t, err)
			}
			for _, n := range res.AST.Children {
				cmd, err := instructions.ParseCommand(n)
				if err != nil {
					return fmt.Errorf("ONBUILD trigger %q: %w", t, err)
				}
				if err := s.dispatch(ctx, cmd); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range s.def.Commands {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.dispatch(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// from sets the stage's starting state.
func (s *stage) from(ctx context.Context, steps int, noCache bool) error {
	b := s.b
	name := s.baseName
	d := b.stageByName(name, s.idx)
	s.platform = b.target
	if d != nil {
		s.platform = d.platform
	}
	if s.def.Platform != "" {
		fromErr := func(err error) error {
			return &ParseError{File: b.dockerfileName(), Line: line(s.def.Location), Err: fmt.Errorf("FROM --platform=%s: %w", s.def.Platform, err)}
		}
		p, _, err := b.lex().ProcessWord(s.def.Platform, mapEnv(b.meta))
		if err != nil {
			return fromErr(err)
		}
		if s.platform, err = parsePlatform(p); err != nil {
			return fromErr(err)
		}
	}
	platform := s.platform.String()
	var st *state
	var base cache.Key
	if d != nil {
		st = d.state.clone()
		st.step, st.steps = 1, steps
		s.state = st
		v := b.prog.Vertex(s.label() + " FROM " + stageDisplay(d))
		v.Done()
		st.chain = []link{{key: cache.Key{Parent: d.state.key}, kd: d.state.key, base: true}}
	} else {
		st = &state{args: map[string]string{}, argSeen: map[string]bool{}}
		st.step, st.steps = 1, steps
		s.state = st
		if strings.EqualFold(name, "scratch") {
			v := b.prog.Vertex(s.label() + " FROM scratch")
			st.cfg.OS, st.cfg.Architecture, st.cfg.Variant = s.platform.OS, s.platform.Architecture, s.platform.Variant
			st.cfg.RootFS.Type = "layers"
			// BuildKit's defaults for an image from scratch.
			st.cfg.Config.Env = []string{defaultPath}
			st.cfg.Config.WorkingDir = "/"
			base = cache.Key{Base: "scratch", BaseID: "scratch", Platform: platform}
			v.Done()
		} else {
			im, display, err := b.baseImage(ctx, name, s.platform, s.label())
			if err != nil {
				return err
			}
			cfg, _, err := b.st.Config(im)
			if err != nil {
				return err
			}
			st.cfg = cloneConfig(*cfg)
			// BuildKit makes sure PATH is set: a base without one (docker
			// import's) gets the default, after its other variables.
			if _, ok := changes.EnvGet(st.cfg.Config.Env, "PATH"); !ok {
				st.cfg.Config.Env = append(st.cfg.Config.Env, defaultPath)
			}
			st.layers = append([]metadata.Layer{}, im.Layers...)
			if cfg.Created != nil {
				st.created = cfg.Created.UTC()
			}
			base = cache.Key{Base: display, BaseID: im.ID.String(), Platform: platform}
		}
		kd := base.Digest()
		st.chain = []link{{key: base, kd: kd, label: "FROM " + name, base: true}}
		st.key = kd
		b.record(&cache.Record{Key: base, Created: st.created}, true)
	}
	if d == nil {
		st.env = append([]string{}, st.cfg.Config.Env...)
		st.baseLayers = len(st.layers)
	}
	st.noCache = noCache
	if b.o.Timestamp != nil {
		st.created = *b.o.Timestamp
	}
	return nil
}

func stageDisplay(d *stage) string {
	if d.name != "" {
		return d.name
	}
	return fmt.Sprint(d.idx)
}

// baseImage finds a base image for platform in the store, pulling it when
// missing or there only for another platform (or always with --pull).
func (b *builder) baseImage(ctx context.Context, name string, platform image.Platform, label string) (*metadata.Image, string, error) {
	if nc, ok := b.namedContext(name); ok { // --build-context
		if nc.Dir != "" {
			return b.dirBase(name, nc.Dir, platform, label)
		}
		name = nc.Image
	}
	ref, err := image.ParseReference(name)
	if err != nil {
		return nil, "", fmt.Errorf("invalid base image %q: %w", name, err)
	}
	display := ref.String()
	v := b.prog.Vertex(label + " FROM " + ref.Familiar())
	fail := func(err error) (*metadata.Image, string, error) {
		v.Error(err)
		return nil, "", err
	}
	var im *metadata.Image
	var other image.Platform // of a stored image that is for another platform
	if !b.o.Pull {
		im, err = b.st.Resolve(name)
		if err != nil && !errors.Is(err, store.ErrNoSuchImage) {
			return fail(err)
		}
		// A multi-platform image of the store has the platform's image
		// as one of its entries (Resolve gave this machine's).
		if ix, ierr := b.st.Index(name); ierr == nil {
			if e, ok := store.PickEntry(ix, platform); ok {
				if im, err = b.st.Image(e.Image); err != nil {
					return fail(err)
				}
			}
		}
		if im != nil {
			have, err := b.imagePlatform(im)
			if err != nil {
				return fail(err)
			}
			if !platform.Runs(have) {
				im, other = nil, have
			}
		}
	}
	if im != nil {
		v.Cached()
		return im, display, nil
	}
	if b.o.Puller == nil {
		if other != (image.Platform{}) {
			return fail(fmt.Errorf("base image %s is in the store for %s, not %s, and no registry client is available to pull it for %s", ref.Familiar(), other, platform, platform))
		}
		return fail(fmt.Errorf("base image %s is not in the store and no registry client is available (pull it first)", ref.Familiar()))
	}
	if other != (image.Platform{}) {
		v.Note(fmt.Sprintf("%s in the store is for %s: pulling it for %s", ref.Familiar(), other, platform))
	} else {
		v.Note("pulling " + ref.Familiar())
	}
	im, err = b.o.Puller(ctx, PullRequest{Ref: name, Platform: platform.String(), Name: platform == hostPlatform()})
	if err != nil {
		var pe *registry.PlatformError
		if errors.As(err, &pe) {
			// It names the image and both platforms already.
			return fail(fmt.Errorf("base image %w", pe))
		}
		return fail(fmt.Errorf("pull base image %s: %w", ref.Familiar(), err))
	}
	// The registry client refuses an image for another platform; this
	// holds whatever the puller is.
	have, err := b.imagePlatform(im)
	if err != nil {
		return fail(err)
	}
	if !platform.Runs(have) {
		return fail(fmt.Errorf("base image %s: no match for platform in manifest: want %s, the image is %s", ref.Familiar(), platform, have))
	}
	v.Done()
	return im, display, nil
}

// imagePlatform is the platform a stored image's config states.
func (b *builder) imagePlatform(im *metadata.Image) (image.Platform, error) {
	cfg, _, err := b.st.Config(im)
	if err != nil {
		return image.Platform{}, err
	}
	return image.NormalizePlatform(image.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}), nil
}

// record queues a cache record, written at the end of the build in one
// transaction. onlyNew records are written only if absent.
func (b *builder) record(r *cache.Record, onlyNew bool) {
	if r.LastUsed.IsZero() {
		r.LastUsed = b.o.Now().UTC()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r.OnlyNew = onlyNew
	if r.Origin == "" {
		r.Origin = b.origin
	}
	b.newRecs = append(b.newRecs, r)
}

// env is what variables in an instruction expand from (state.env).
func (s *stage) env() mapEnv {
	m := mapEnv{}
	for _, kv := range s.state.env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// keyArgs are the ARG values in the stage's env: its own and those of
// the stages it is FROM.
func (s *state) keyArgs() map[string]string {
	out := maps.Clone(s.inherited)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, s.args)
	return out
}

// usedArgs lists the ARGs in scope whose name the text mentions: the
// build args an instruction's expansion can depend on. A superset is
// harmless (an unused arg whose value changed causes a miss only if
// mentioned); missing one would be a wrong hit.
func (s *stage) usedArgs(text string) map[string]string {
	var out map[string]string
	for k, v := range s.state.keyArgs() {
		if strings.Contains(text, "$"+k) || strings.Contains(text, "${"+k) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// dispatch runs one instruction.
func (s *stage) dispatch(ctx context.Context, c instructions.Command) error {
	st := s.state
	lex := s.b.lex()
	switch c := c.(type) {
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			v, ok := s.b.o.BuildArgs[kv.Key]
			if !ok && kv.Value != nil {
				w, _, err := lex.ProcessWord(*kv.Value, s.env())
				if err != nil {
					return s.lineErr(c, err)
				}
				v, ok = w, true
			}
			if !ok {
				v, ok = s.b.meta[kv.Key]
			}
			if !ok {
				// Declared without a value: as in BuildKit, nothing
				// changes (unset, it expands to nothing and is not in
				// RUN's environment).
				continue
			}
			st.args[kv.Key] = v
			st.env = changes.SetEnv(st.env, kv.Key, v)
			s.b.mu.Lock()
			s.b.usedArgs[kv.Key] = true
			s.b.mu.Unlock()
		}
		s.configStep(c, nil)
		return nil
	case *instructions.RunCommand:
		return s.run(ctx, c)
	case *instructions.CopyCommand:
		return s.copy(ctx, c)
	case *instructions.AddCommand:
		return s.add(ctx, c)
	case *instructions.WorkdirCommand:
		return s.workdir(ctx, c)
	case *instructions.MaintainerCommand:
		st.cfg.Author = c.Maintainer
		s.configStep(c, nil)
		return nil
	default:
		// Config-only instructions: expanded with ARGs and ENV, then
		// applied by the same code as import -c and commit -c.
		if err := s.applyConfig(c, lex); err != nil {
			return s.lineErr(c, err)
		}
		s.configStep(c, nil)
		return nil
	}
}

// applyConfig applies a config instruction, its variables expanded from
// the stage's ARGs and ENV (s.env).
func (s *stage) applyConfig(c instructions.Command, lex *shell.Lex) error {
	st := s.state
	cmd := st.cfg.Config.Cmd
	if err := changes.InstructionVars(&st.cfg.Config, c, lex, s.env()); err != nil {
		return err
	}
	switch c := c.(type) {
	case *instructions.EnvCommand:
		// Expand replaced the values with their expansions.
		for _, kv := range c.Env {
			st.env = changes.SetEnv(st.env, kv.Key, kv.Value)
		}
	case *instructions.CmdCommand:
		st.cmdSet = true
	case *instructions.EntrypointCommand:
		// changes resets Cmd, as docker does for a CMD of the base
		// image; one this stage set stays, as in BuildKit.
		if st.cmdSet {
			st.cfg.Config.Cmd = cmd
		}
	}
	return nil
}

// configStep adds the history entry of a step without a layer and
// extends the key chain.
func (s *stage) configStep(c instructions.Command, extra map[string]string) {
	st := s.state
	text := original(c)
	k := cache.Key{Parent: st.key, Instruction: text, Args: s.usedArgs(text)}
	kd := k.Digest()
	st.chain = append(st.chain, link{key: k, kd: kd, label: text})
	st.key = kd
	if _, isArg := c.(*instructions.ArgCommand); isArg {
		// ARG adds no history entry in BuildKit's images.
		s.b.record(&cache.Record{Key: k, Created: st.created}, true)
		return
	}
	created := st.created
	st.history = append(st.history, ocispec.History{Created: &created, CreatedBy: historyText(c, text), Comment: "buildkit.dockerfile.v0", EmptyLayer: true})
	s.b.record(&cache.Record{Key: k, Created: st.created}, true)
}

// original is the instruction as written, on one line.
func original(c instructions.Command) string {
	type coder interface{ String() string }
	if cc, ok := c.(coder); ok {
		return strings.Join(strings.Fields(cc.String()), " ")
	}
	return c.Name()
}

// historyText is the created_by of a step, as BuildKit writes it.
func historyText(c instructions.Command, text string) string {
	if i := strings.IndexByte(text, ' '); i > 0 {
		text = strings.ToUpper(text[:i]) + text[i:]
	}
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
		return text + " # buildkit"
	}
	return text
}

func (s *stage) lineErr(c instructions.Command, err error) error {
	return &ParseError{File: s.b.dockerfileName(), Line: line(c.Location()), Err: fmt.Errorf("%s: %w", original(c), err)}
}

// layerStep is a step that makes a layer: it is looked up in the cache
// and, on a miss, exec makes its layer.
type layerStep struct {
	key cache.Key
	// files, when set, gives key.Files: made on a miss only (explaining
	// it and recording the step need them, a hit does not).
	files     func() map[string]string
	display   string // the progress line
	createdBy string
	v         *progress.Vertex
	// link: the layer does not depend on the stage's files (COPY
	// --link); its key has no parent, and the stage's chain goes on
	// from a key of the parent and the layer together.
	link bool
}

// lookup checks the cache for the step; on a hit it applies the record
// and returns true.
func (s *stage) lookup(ls *layerStep) (bool, error) {
	st, b := s.state, s.b
	kd := ls.key.Digest()
	// A linked layer is looked up even after a miss: what changed below
	// it does not change it.
	if !st.noCache && (!st.missed || ls.link) {
		rec, err := b.cache.GetUsable(kd)
		if err != nil {
			return false, err
		}
		if rec == nil || rec.Layer == nil {
			rec = b.remoteLookup(kd)
		}
		if rec != nil && rec.Layer != nil {
			ls.v.Cached()
			s.addLayer(ls, *rec.Layer, rec.Created)
			b.mu.Lock()
			b.hits = append(b.hits, kd)
			b.cached++
			b.mu.Unlock()
			return true, nil
		}
	}
	if ls.files != nil {
		ls.key.Files, ls.files = ls.files(), nil
	}
	if st.noCache {
		ls.v.Note("cache miss: --no-cache")
	} else if !st.missed {
		// Only the first miss of a stage has a reason of its own: the
		// steps after it run because it did.
		ls.v.Note("cache miss: " + s.explain(ls.key))
	}
	st.missed = true
	return false, nil
}

// explain finds the first step of the chain that has no record and says
// what changed there.
func (s *stage) explain(k cache.Key) string {
	b := s.b
	b.mu.Lock()
	if b.records == nil {
		recs, err := b.cache.All()
		if err != nil {
			b.mu.Unlock()
			return "cache unreadable: " + err.Error()
		}
		b.records = recs
	}
	all := b.records
	b.mu.Unlock()
	chain := append(append([]link{}, s.state.chain...), link{key: k, kd: k.Digest()})
	for i, l := range chain {
		if l.base {
			continue
		}
		if _, ok := all[l.kd]; ok {
			continue
		}
		var parent *cache.Key
		if i > 0 && chain[i-1].base && chain[i-1].key.Base != "" {
			parent = &chain[i-1].key
		}
		origin := b.origin
		if b.o.ExplainCache {
			origin = "" // asked: the closest record of any build
		}
		why := cache.Explain(l.key, parent, all, origin)
		if i < len(chain)-1 {
			return fmt.Sprintf("%s (at %q)", why, l.label)
		}
		return why
	}
	return "no record with these inputs"
}

// addLayer appends a made or cached layer to the stage.
func (s *stage) addLayer(ls *layerStep, l metadata.Layer, created time.Time) {
	st := s.state
	if s.b.o.Timestamp != nil {
		created = *s.b.o.Timestamp
	}
	st.layers = append(st.layers, l)
	if created.After(st.created) {
		st.created = created
	}
	c := created
	st.history = append(st.history, ocispec.History{Created: &c, CreatedBy: ls.createdBy, Comment: "buildkit.dockerfile.v0"})
	kd := ls.key.Digest()
	st.chain = append(st.chain, link{key: ls.key, kd: kd, label: ls.display})
	if ls.link {
		// The next step depends on the parent and this layer.
		k := cache.Key{Parent: st.key, Instruction: "LINK " + ls.display, Sources: kd}
		s.b.record(&cache.Record{Key: k, Created: created}, true)
		kd = k.Digest()
		st.chain = append(st.chain, link{key: k, kd: kd, label: "LINK " + ls.display})
	}
	st.key = kd
	st.recs = append(st.recs, &cache.Record{Key: ls.key, Layer: &l, Created: created, Comment: ls.createdBy})
}

// finish records a step's fresh layer.
func (s *stage) finish(ls *layerStep, l *metadata.Layer) {
	b := s.b
	created := b.start
	ls.v.Done()
	b.record(&cache.Record{Key: ls.key, Layer: l, Created: created, Comment: ls.createdBy}, false)
	b.mu.Lock()
	b.built++
	b.mu.Unlock()
	s.addLayer(ls, *l, created)
}

// newStep starts the display of a layer step.
func (s *stage) newStep(display string) *progress.Vertex {
	s.state.step++
	return s.b.prog.Vertex(s.label() + " " + display)
}

// sortedArgs lists the stage's args as K=V, sorted (RUN's environment).
func sortedArgs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
