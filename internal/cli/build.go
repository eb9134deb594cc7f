package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/builder"
	"github.com/strata-dev/strata/internal/builder/output"
	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/builder/remotecache"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/sandbox"
	"github.com/strata-dev/strata/internal/store"
)

type buildFlags struct {
	registry      registryFlags
	tags          []string
	file          string
	target        string
	buildArgs     []string
	labels        []string
	noCache       bool
	noCacheFilter []string
	pull          bool
	network       string
	iidfile       string
	platform      string
	progress      string
	secrets       []string
	quiet         bool
	explain       bool
	timestamp     string
	compression   string
	level         int
	runtime       string
	isolation     string
	cacheFrom     []string
	cacheTo       []string
	check         bool
	ssh           []string
	contexts      []string
	outputs       []string
	metadataFile  string
	squash        bool
	squashAll     bool
	push, load    bool          // --push: send the tags to their registries; --load: keep them here too
	sandbox       sandbox.Flags // --add-host, --ulimit, --shm-size
}

func newBuildCmd(a *app) *cobra.Command {
	var f buildFlags
	c := &cobra.Command{
		Use:   "build [OPTIONS] PATH|-",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.build(cmd.Context(), f, args[0])
		},
	}
	fl := c.Flags()
	stringArrayVarP(fl, &f.tags, "tag", "t", `Name and optionally a tag in the "name:tag" format`)
	fl.StringVarP(&f.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile"; - reads it from stdin)`)
	fl.StringVar(&f.target, "target", "", "Set the target build stage to build")
	stringArrayVarP(fl, &f.buildArgs, "build-arg", "", "Set build-time variables (K=V, or K to take it from the environment)")
	stringArrayVarP(fl, &f.labels, "label", "", "Set metadata for an image")
	fl.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	stringArrayVarP(fl, &f.noCacheFilter, "no-cache-filter", "", "Do not cache specified stages")
	// docker's defaults, accepted so that scripts written for it run: a
	// build keeps no intermediate container, failed or not.
	fl.Bool("rm", true, "Remove intermediate containers after a successful build (always so)")
	fl.Bool("force-rm", false, "Always remove intermediate containers (always so)")
	fl.BoolVar(&f.pull, "pull", false, "Always attempt to pull all referenced images")
	fl.StringVar(&f.network, "network", "host", `Networking mode for the RUN instructions ("host" or "none")`)
	fl.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.StringVar(&f.platform, "platform", "", "Set target platform(s) for build (OS/ARCH[/VARIANT] or local; several, comma-separated, make a multi-platform image)")
	fl.StringVar(&f.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	stringArrayVarP(fl, &f.secrets, "secret", "", `Secret to expose to the build ("id=mysecret,src=/local/secret")`)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fl.BoolVar(&f.explain, "explain-cache", false, "Say for each step that missed the cache which input changed")
	fl.StringVar(&f.timestamp, "timestamp", "", "Unix time written as every time of the image (default: $SOURCE_DATE_EPOCH, else now)")
	fl.StringVar(&f.compression, "compression", "", `Layer compression: "gzip", "zstd" or "none" (default: gzip; a RUN layer is kept as its snapshot and gzipped when pushed)`)
	fl.IntVar(&f.level, "compression-level", 0, "Compression level (default: gzip 1 = fastest, zstd 3)")
	fl.StringVar(&f.runtime, "runtime", "", "OCI runtime for RUN (default: $STRATA_RUNTIME, else crun, else runc)")
	fl.StringVar(&f.isolation, "isolation", "", `Isolation of RUN steps: "oci" (a container each) or "chroot" (this container's own root, where namespaces are refused; default: chosen)`)
	stringArrayVarP(fl, &f.cacheFrom, "cache-from", "", `External cache source ("type=registry,ref=R", or R)`)
	f.registry.addTLSVerify(fl)
	stringArrayVarP(fl, &f.cacheTo, "cache-to", "", `Cache export destination ("type=registry,ref=R[,mode=min|max]")`)
	stringArrayVarP(fl, &f.outputs, "output", "o", `Output destination instead of the store ("type=local,dest=DIR", "type=tar|oci|docker,dest=FILE", DIR; dest=- is stdout)`)
	fl.StringVar(&f.metadataFile, "metadata-file", "", "Write build result metadata to a file (JSON)")
	stringArrayVarP(fl, &f.ssh, "ssh", "", `SSH agent socket to forward to RUN --mount=type=ssh ("default" = $SSH_AUTH_SOCK, or ID=SOCKET)`)
	stringArrayVarP(fl, &f.contexts, "build-context", "", `Additional build context for FROM and COPY --from ("NAME=DIR" or "NAME=docker-image://REF")`)
	fl.BoolVar(&f.squash, "squash", false, "Squash the layers the final stage adds to its base image into one (the build cache keeps every step)")
	fl.BoolVar(&f.squashAll, "squash-all", false, "Squash all of the image's layers, its base's too, into one")
	fl.BoolVar(&f.push, "push", false, "Push the built image (every platform, and the index) to the registry of each tag; nothing is kept here unless --load")
	fl.BoolVar(&f.load, "load", false, "With --push, keep the built image in the store too")
	fl.BoolVar(&f.check, "check", false, "Check the Dockerfile with BuildKit's lint rules instead of building (exit 1 on warnings)")
	addBuildSandboxFlags(fl, &f.sandbox)
	return c
}

func newBuilderCmd(a *app) *cobra.Command {
	bc := &cobra.Command{Use: "builder", Short: "Manage builds"}
	var all, force bool
	var keep string
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var keepBytes int64
			if keep != "" {
				n, err := units.RAMInBytes(keep)
				if err != nil {
					return fmt.Errorf("invalid --keep-storage %q: %v", keep, err)
				}
				keepBytes = n
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			res, err := builder.Prune(st, builder.PruneOptions{All: all, KeepStorage: keepBytes})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted %d build cache records\n", res.Records)
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", humanSize(res.Bytes))
			return nil
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all build cache, not just the cache of layers no image uses")
	prune.Flags().StringVar(&keep, "keep-storage", "", "Amount of disk space to keep for cache (most recently used first)")
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation (strata never prompts)")
	bc.AddCommand(prune)
	return bc
}

// buildOptions turns build's flags and context argument into the
// builder's options: the Dockerfile read, tags, build args, labels,
// secrets and timestamp parsed.
func (a *app) buildOptions(f buildFlags, ctxArg string) (builder.Options, error) {
	o := builder.Options{Target: f.target, NoCache: f.noCache, NoCacheFilter: f.noCacheFilter, Pull: f.pull,
		Network: f.network, Platform: f.platform, ExplainCache: f.explain, Level: f.level, Runtime: f.runtime}
	sb, err := sandbox.Parse(f.sandbox)
	if err != nil {
		return o, err
	}
	o.Sandbox = sb
	if o.Squash, err = squashMode(f.squash, f.squashAll); err != nil {
		return o, err
	}
	// Unless told how to compress, a RUN layer stays in its snapshot (the
	// store writes its tar when it is read) rather than being written a
	// second time as a gzip blob; pushed, it is gzip like every layer.
	o.KeepRunLayers = f.compression == "" && f.level == 0
	if f.compression == "" {
		f.compression = "gzip"
	}
	if o.Compression, err = layer.ParseCompression(f.compression); err != nil {
		return o, err
	}
	if _, err := executor.ParseIsolation(f.isolation); err != nil {
		return o, err
	}
	if f.network != "host" && f.network != "none" && f.network != "default" {
		return o, fmt.Errorf("network mode %q not supported by strata build (use host or none)", f.network)
	}
	// The Dockerfile and the context.
	switch {
	case ctxArg == "-":
		if f.file != "" && f.file != "-" {
			return o, errors.New("with a context from stdin (-), the Dockerfile is read from stdin too: -f cannot be used")
		}
		if o.Dockerfile, err = io.ReadAll(a.stdin); err != nil {
			return o, err
		}
	default:
		o.ContextDir = ctxArg
		if f.file == "-" {
			if o.Dockerfile, err = io.ReadAll(a.stdin); err != nil {
				return o, err
			}
			break
		}
		p := f.file
		if p == "" {
			p = filepath.Join(ctxArg, "Dockerfile")
		}
		o.DockerfilePath = p
		if o.Dockerfile, err = os.ReadFile(p); err != nil {
			if os.IsNotExist(err) {
				return o, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", p)
			}
			return o, err
		}
	}
	for _, t := range f.tags {
		r, err := image.ParseTagged(t)
		if err != nil {
			return o, fmt.Errorf("invalid tag %q: %v", t, err)
		}
		o.Tags = append(o.Tags, r)
	}
	o.BuildArgs = map[string]string{}
	for _, kv := range f.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue // docker ignores an arg named without value that the env lacks
			}
		}
		o.BuildArgs[k] = v
	}
	o.Labels = map[string]string{}
	for _, kv := range f.labels {
		k, v, _ := strings.Cut(kv, "=")
		o.Labels[k] = v
	}
	o.Secrets = map[string]string{}
	for _, s := range f.secrets {
		var id, src string
		for _, field := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "env":
				src = "env:" + v
			}
		}
		if id == "" {
			return o, fmt.Errorf("invalid --secret %q: id= is required", s)
		}
		if src == "" {
			src = "env:" + id
		}
		o.Secrets[id] = src
	}
	if o.SSH, err = builder.ParseSSH(f.ssh, os.Getenv); err != nil {
		return o, err
	}
	if o.Contexts, err = builder.ParseContexts(f.contexts); err != nil {
		return o, err
	}
	ts := f.timestamp
	if ts == "" {
		ts = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if v, ok := o.BuildArgs["SOURCE_DATE_EPOCH"]; ok && f.timestamp == "" {
		ts = v
	}
	if ts != "" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return o, fmt.Errorf("invalid timestamp %q: want seconds since 1970", ts)
		}
		t := time.Unix(n, 0).UTC()
		o.Timestamp = &t
	}
	return o, nil
}

// squashMode is what --squash and --squash-all ask for.
func squashMode(squash, all bool) (builder.Squash, error) {
	switch {
	case squash && all:
		return builder.NoSquash, errdefs.InvalidArgument(errors.New("--squash and --squash-all cannot be used together"))
	case squash:
		return builder.SquashNew, nil
	case all:
		return builder.SquashAll, nil
	}
	return builder.NoSquash, nil
}

func (a *app) build(ctx context.Context, f buildFlags, ctxArg string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := interruptible(ctx)
	defer stop()
	o, err := a.buildOptions(f, ctxArg)
	if err != nil {
		return err
	}
	if f.push && len(o.Tags) == 0 {
		return errdefs.InvalidArgument(errors.New("--push needs a name to push to: -t REGISTRY/REPO:TAG"))
	}
	out, err := a.buildOutput(f.outputs, &o)
	if err != nil {
		return err
	}
	// Progress goes to stderr; the image ID alone to stdout.
	mode, err := progress.ParseMode(f.progress, isTerminal(a.stderr))
	if err != nil {
		return err
	}
	if f.quiet {
		mode = progress.Quiet
	}
	p := progress.New(a.stderr, mode)
	o.Progress = p
	st, err := a.store()
	if err != nil || f.check {
		p.Close()
		if err != nil {
			return err
		}
		return buildCheck(ctx, st, o, a.stdout)
	}
	restore, err := a.buildIsolation(f.isolation, st, &o, out)
	if err != nil {
		p.Close()
		return err
	}
	client := lazyRegistryClient(f.registry)
	o.Puller = func(ctx context.Context, req builder.PullRequest) (*metadata.Image, error) {
		plat, err := parsePlatform(req.Platform)
		if err != nil {
			return nil, err
		}
		cl, err := client()
		if err != nil {
			return nil, err
		}
		res, err := cl.PullWith(ctx, st, req.Ref, registry.PullOptions{Platform: plat, Strict: true, NoName: !req.Name})
		if err != nil {
			return nil, err
		}
		return res.Image, nil
	}
	if err := a.remoteCache(ctx, f, client, st, p, &o); err != nil {
		p.Close()
		return err
	}
	res, err := buildPlatforms(ctx, st, o)
	p.Close()
	if rerr := restore(context.WithoutCancel(ctx)); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		var re *builder.RunError
		if errors.As(err, &re) && mode != progress.Plain && len(re.Output) > 0 {
			// The output was not shown as it ran: show its end now.
			out := re.Output
			if len(out) > 20 {
				out = out[len(out)-20:]
			}
			for _, l := range out {
				fmt.Fprintln(a.stderr, "  "+l)
			}
		}
		return err
	}
	if !f.quiet {
		buildWarnings(ctx, st, o, a.stderr)
	}
	if f.push {
		if err := a.pushBuilt(ctx, st, client, o.Tags, f.load, f.quiet); err != nil {
			return err
		}
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ImageID.String()), 0o644); err != nil {
			return err
		}
	}
	if f.metadataFile != "" {
		if err := writeBuildMetadata(f.metadataFile, res, o, out); err != nil {
			return err
		}
	}
	if out == nil || out.Dest != output.Stdout { // stdout holds the output then
		a.println(res.ImageID.String())
	}
	return nil
}

// pushBuilt is build --push: each tag sent to its registry, then, unless
// keep (--load), the tags removed here (the build cache keeps the steps),
// as buildx's --push leaves nothing in the local image store.
func (a *app) pushBuilt(ctx context.Context, st *store.Store, client func() (*registry.Client, error), tags []image.Reference, keep, quiet bool) error {
	cl, err := client()
	if err != nil {
		return err
	}
	for _, t := range tags {
		if !quiet {
			fmt.Fprintf(a.stdout, "The push refers to repository [%s]\n", t.Repository())
		}
		if err := a.pushTo(ctx, st, cl, pushJob{name: t.String(), dest: t, quiet: quiet}); err != nil {
			return err
		}
	}
	if keep {
		return nil
	}
	for _, t := range tags {
		if _, err := st.Remove(t.String(), false); err != nil {
			return err
		}
	}
	_, err = st.GC(false)
	return err
}

// buildPlatforms is builder.Build, or for a list of several platforms
// builder.BuildPlatforms, whose result is then the index's digest (as
// buildx prints it).
func buildPlatforms(ctx context.Context, st *store.Store, o builder.Options) (*builder.Result, error) {
	if !strings.Contains(o.Platform, ",") {
		return builder.Build(ctx, st, o)
	}
	plats, err := builder.ParsePlatforms(o.Platform)
	if err != nil {
		return nil, err
	}
	if len(plats) == 1 {
		o.Platform = plats[0].String()
		return builder.Build(ctx, st, o)
	}
	mr, err := builder.BuildPlatforms(ctx, st, o, plats)
	if err != nil {
		return nil, err
	}
	res := &builder.Result{ImageID: mr.Index.Digest, Manifest: mr.Index.Digest, ManifestSize: mr.Index.Size}
	for _, r := range mr.Results {
		res.Cached += r.Cached
		res.Built += r.Built
	}
	return res, nil
}

// remoteCache sets up --cache-from (the caches' records read now, their
// layers fetched by the build when it needs them) and --cache-to.
func (a *app) remoteCache(ctx context.Context, f buildFlags, client func() (*registry.Client, error), st *store.Store, p *progress.Printer, o *builder.Options) error {
	if len(f.cacheFrom) == 0 && len(f.cacheTo) == 0 {
		return nil
	}
	var froms, tos []remotecache.Spec
	for _, s := range f.cacheFrom {
		sp, err := remotecache.ParseSpec(s)
		if err != nil {
			return err
		}
		froms = append(froms, sp)
	}
	for _, s := range f.cacheTo {
		sp, err := remotecache.ParseSpec(s)
		if err != nil {
			return err
		}
		tos = append(tos, sp)
	}
	cl, err := client()
	if err != nil {
		return err
	}
	var imported []*remotecache.Remote
	if len(froms) > 0 {
		lock, err := st.Writing()
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	for _, sp := range froms {
		v := p.Vertex("importing cache manifest from " + sp.Ref)
		r, err := remotecache.Import(ctx, cl, st, sp.Ref)
		if err != nil {
			err = fmt.Errorf("import build cache: %w", err)
			v.Error(err)
			return err
		}
		if r == nil {
			v.Note("WARNING: no build cache at " + sp.Ref + " (yet): building without it")
			v.Done()
			continue
		}
		v.Done()
		imported = append(imported, r)
		o.CacheFrom = append(o.CacheFrom, r)
	}
	if len(tos) == 0 {
		return nil
	}
	var xs []*remotecache.Exporter
	for _, sp := range tos {
		xs = append(xs, &remotecache.Exporter{Client: cl, Store: st, Ref: sp.Ref, Sources: imported})
		if sp.Mode == "max" {
			o.CacheExportAll = true
		}
	}
	if len(tos) > 1 && o.CacheExportAll {
		// One build makes one set of records: a mode=max export beside a
		// mode=min one would export them all to both.
		for _, sp := range tos {
			if sp.Mode != "max" {
				return fmt.Errorf("--cache-to: mixing mode=min and mode=max in one build is not supported")
			}
		}
	}
	o.CacheExport = func(ctx context.Context, e *builder.Export) error {
		for _, x := range xs {
			if err := x.Export(ctx, e); err != nil {
				return fmt.Errorf("export build cache to %s: %w", x.Ref, err)
			}
		}
		return nil
	}
	return nil
}
