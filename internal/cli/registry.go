package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/store"
)

// registryFlags are shared by the commands that talk to registries.
type registryFlags struct {
	tlsVerify     bool
	certDir       string
	maxConcurrent int
	timeout       time.Duration
}

// addTLSVerify adds --tls-verify and --cert-dir alone (build and analyze
// move no blobs the user would tune the concurrency of).
func (f *registryFlags) addTLSVerify(fs *pflag.FlagSet) {
	fs.BoolVar(&f.tlsVerify, "tls-verify", true, "Require HTTPS and verify certificates (plain HTTP is used for localhost and insecure-registries)")
	fs.StringVar(&f.certDir, "cert-dir", "", "Registry CAs and client certificates, in DIR/HOST:PORT/{ca.crt,client.cert,client.key} (default $STRATA_CERTS_DIR or /etc/docker/certs.d)")
}

func (f *registryFlags) add(c *cobra.Command) {
	f.addTLSVerify(c.Flags())
	c.Flags().IntVar(&f.maxConcurrent, "max-concurrent", 3, "Number of blobs transferred at once")
	c.Flags().DurationVar(&f.timeout, "timeout", 0, "Fail when the registry makes no progress for this long (default $STRATA_REGISTRY_TIMEOUT or 2m)")
}

// newRegistryClient is the one place the cli makes a registry client (pull,
// push, login, logout, manifest, build's base images and remote cache,
// analyze's docker:// images), so they all honour --tls-verify, the
// insecure-registries of /etc/docker/daemon.json and $STRATA_CONFIG (else
// /etc/strata/config.json), and docker's credentials alike. p receives
// per-layer progress (nil: none).
func newRegistryClient(f registryFlags, p registry.Progress) (*registry.Client, error) {
	return registry.New(registry.Options{
		TLSVerify:     f.tlsVerify,
		CertsDir:      f.certDir,
		Timeout:       f.timeout,
		MaxConcurrent: f.maxConcurrent,
		Progress:      p,
		UserAgent:     "strata/" + Version,
	})
}

// lazyRegistryClient makes the client on first use, once, for commands
// that may need none (a build whose bases are all in the store); safe for
// concurrent use (a build's stages pull in parallel).
func lazyRegistryClient(f registryFlags) func() (*registry.Client, error) {
	var once sync.Once
	var cl *registry.Client
	var err error
	return func() (*registry.Client, error) {
		once.Do(func() { cl, err = newRegistryClient(f, nil) })
		return cl, err
	}
}

// registryClient makes a registry client whose progress goes to stdout:
// bars on a terminal, one line per change otherwise, nothing when quiet.
func (a *app) registryClient(f registryFlags, quiet bool) (*registry.Client, func(), error) {
	return registryClientTo(f, quiet, a.stdout)
}

// registryClientTo is registryClient with the progress on w (run's pull
// shows it on stderr, as docker's does).
func registryClientTo(f registryFlags, quiet bool, w io.Writer) (*registry.Client, func(), error) {
	var p registry.Progress
	done := func() {}
	switch {
	case quiet:
	case regTerminal(w):
		width, _, err := term.GetSize(int(w.(*os.File).Fd()))
		if err != nil {
			width = 80
		}
		b := registry.Bars(w, width)
		p, done = b, b.Close
	default:
		p = registry.Lines(w)
	}
	c, err := newRegistryClient(f, p)
	return c, done, err
}

// parsePlatform reads a --platform value; empty means this machine's.
func parsePlatform(s string) (image.Platform, error) {
	if s == "" {
		return image.HostPlatform(), nil
	}
	return image.ParsePlatform(s)
}

func regTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// interruptible cancels the operation on ^C or SIGTERM, so that the
// deferred clean-up (temporary blobs, the store lock) runs.
func interruptible(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			interruptedBy.Store(int32(sig.(syscall.Signal)))
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}

// interruptedBy is the signal that cancelled a command through
// interruptible (0: none): the command then exits 128+n, as docker's
// client killed by it does (130 for SIGINT).
var interruptedBy atomic.Int32

func newPullCmd(a *app) *cobra.Command {
	var f registryFlags
	var platform string
	var allTags, allPlatforms, quiet bool
	c := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plat, err := parsePlatform(platform)
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			cl, done, err := a.registryClient(f, quiet)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			refs := []string{args[0]}
			if allTags {
				r, err := image.ParseReference(args[0])
				if err != nil {
					return err
				}
				if strings.Contains(strings.TrimPrefix(args[0], r.Domain()), ":") || r.IsDigest() {
					return errors.New("tag can't be used with --all-tags/-a")
				}
				tags, err := cl.Tags(ctx, args[0])
				if err != nil {
					return err
				}
				refs = refs[:0]
				for _, t := range tags {
					refs = append(refs, r.Repository()+":"+t)
				}
			} else if !quiet && !hasTagOrDigest(args[0]) {
				fmt.Fprintln(a.stdout, "Using default tag: latest")
			}
			for _, s := range refs {
				res, err := pullOne(ctx, cl, st, s, pullWhat{platform: plat, all: allPlatforms}, a.stdout, quiet)
				done()
				if err != nil {
					return err
				}
				a.println(res.Ref.String())
				st.ImageEvent("pull", res.Ref.Familiar(), res.Ref.FamiliarRepository())
			}
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&platform, "platform", "", "Pick this platform from a multi-platform image (OS/ARCH[/VARIANT]; default: this machine's)")
	c.Flags().BoolVarP(&allTags, "all-tags", "a", false, "Download all tagged images in the repository")
	c.Flags().BoolVar(&allPlatforms, "all-platforms", false, "Download every platform of a multi-platform image and keep its index")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return c
}

// pullOne pulls one reference and prints what docker's pull prints on w
// before the name it pulled (nothing when quiet).
// pullWhat is which platforms a pull keeps: one, or (all) every one of
// a multi-platform image, with its index.
type pullWhat struct {
	platform image.Platform
	all      bool
}

func pullOne(ctx context.Context, cl *registry.Client, st *store.Store, s string, what pullWhat, w io.Writer, quiet bool) (*registry.PullResult, error) {
	r, err := image.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if !quiet {
		what := r.Tag()
		if r.IsDigest() {
			what = r.Digest()
		}
		fmt.Fprintf(w, "%s: Pulling from %s\n", what, r.Path())
	}
	var res *registry.PullResult
	if what.all {
		ir, err := cl.PullAllPlatforms(ctx, st, s)
		if err != nil {
			return nil, err
		}
		if ir != nil {
			res = &registry.PullResult{Ref: ir.Ref, Digest: ir.Digest, UpToDate: ir.UpToDate}
		}
	}
	if res == nil {
		var err error
		if res, err = cl.Pull(ctx, st, s, what.platform); err != nil {
			return nil, err
		}
	}
	if quiet {
		return res, nil
	}
	fmt.Fprintf(w, "Digest: %s\n", res.Digest)
	status := "Downloaded newer image for"
	if res.UpToDate {
		status = "Image is up to date for"
	}
	fmt.Fprintf(w, "Status: %s %s\n", status, res.Ref.Familiar())
	return res, nil
}

func newPushCmd(a *app) *cobra.Command {
	var f registryFlags
	var cf compressionFlags
	var quiet bool
	var platform string
	c := &cobra.Command{
		Use:   "push [OPTIONS] IMAGE [DESTINATION]",
		Short: "Upload an image to a registry",
		Long: "Upload an image to a registry. DESTINATION (default: IMAGE's own name) is where it goes; " +
			"layers the registry has are not sent, uncompressed layers are sent gzip-compressed. " +
			"--compression-format zstd (or gzip) sends every layer so, converting a layer stored otherwise once " +
			"and keeping the result for the next push; a zstd image goes with an OCI manifest, as podman's does.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			conv, err := cf.conversion()
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			dest := args[0]
			if len(args) == 1 && image.LooksLikeID(args[0]) {
				if _, err := st.Resolve(args[0]); err == nil {
					return fmt.Errorf("cannot push an image by ID: give a destination name (strata push %s REGISTRY/REPO:TAG)", args[0])
				}
			}
			if len(args) == 2 {
				dest = args[1]
			}
			r, err := image.ParseTagged(dest)
			if err != nil {
				if image.LooksLikeID(dest) {
					return fmt.Errorf("cannot push an image by ID: give a destination name (strata push %s REGISTRY/REPO:TAG)", dest)
				}
				return err
			}
			cl, done, err := a.registryClient(f, quiet)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			if !quiet {
				fmt.Fprintf(a.stdout, "The push refers to repository [%s]\n", r.Repository())
			}
			want, err := optionalPlatform(platform)
			if err != nil {
				return err
			}
			err = a.pushTo(ctx, st, cl, pushJob{name: args[0], dest: r, conv: conv, platform: want, quiet: quiet})
			done()
			if err == nil {
				st.ImageEvent("push", r.Familiar(), r.FamiliarRepository())
			}
			return err
		},
	}
	f.add(c)
	cf.add(c.Flags(), "sent")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	c.Flags().StringVar(&platform, "platform", "", "Push only this platform's image of a multi-platform image (OS/ARCH[/VARIANT])")
	return c
}

// pushJob is one image to push: the store's name, where it goes, the
// layer conversion (nil: none), the platform of a multi-platform image to
// push alone (nil: all of them, with the index).
type pushJob struct {
	name     string
	dest     image.Reference
	conv     *store.Conversion
	platform *image.Platform
	quiet    bool
}

// pushTo pushes an image of the store, or a multi-platform image whole
// (each platform's image, then the index), printing what docker prints.
func (a *app) pushTo(ctx context.Context, st *store.Store, cl *registry.Client, j pushJob) error {
	if j.conv != nil {
		// gzip: uncompressed layers go the way they always go.
		j.conv.LeaveUncompressed = j.conv.To == layer.Gzip
		if !j.quiet {
			j.conv.Converting = func(l image.Layer) {
				fmt.Fprintf(a.stdout, "%s: Converting to %s\n", shortID(l.Digest.String()), j.conv.To)
			}
		}
	}
	open := func(im *metadata.Image) (image.Source, error) { return entrySource(ctx, st, im.ID, j.name, j.conv) }
	tag := j.dest.Tag()
	if ix, err := st.Index(j.name); err == nil && j.platform == nil {
		res, err := cl.PushIndex(ctx, st, ix, j.dest.String(), open)
		if err != nil {
			return err
		}
		if j.quiet {
			a.println(j.dest.String())
			return nil
		}
		for _, e := range res.Entries {
			fmt.Fprintf(a.stdout, "%s: digest: %s size: %d\n", e.Platform, e.Digest, e.Size)
		}
		fmt.Fprintf(a.stdout, "%s: digest: %s size: %d\n", tag, res.Digest, res.Size)
		return nil
	}
	im, err := resolveFor(st, j.name, j.platform)
	if err != nil {
		return err
	}
	src, err := open(im)
	if err != nil {
		return err
	}
	defer src.Close()
	res, err := cl.Push(ctx, st, src, j.dest.String())
	if err != nil {
		return err
	}
	if j.quiet {
		a.println(j.dest.String())
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: digest: %s size: %d\n", tag, res.Digest, res.Size)
	return nil
}

func newLoginCmd(a *app) *cobra.Command {
	var f registryFlags
	var user, password string
	var passwordStdin bool
	c := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (credentials are kept in docker's config.json)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if password != "" {
				fmt.Fprintln(a.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
				if passwordStdin {
					return errors.New("--password and --password-stdin are mutually exclusive")
				}
			}
			if user == "" && password == "" && !passwordStdin {
				done, err := a.loginAgain(cmd.Context(), f, server)
				if done || err != nil {
					return err
				}
			}
			in := bufio.NewReader(a.stdin)
			if passwordStdin {
				if user == "" {
					return errors.New("must provide --username with --password-stdin")
				}
				b, err := io.ReadAll(io.LimitReader(in, 1<<20))
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" {
				fmt.Fprint(a.stdout, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && line == "" {
					return errors.New("username is required")
				}
				user = strings.TrimSpace(line)
			}
			if password == "" {
				fmt.Fprint(a.stdout, "Password: ")
				if fd, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
					b, err := term.ReadPassword(int(fd.Fd()))
					fmt.Fprintln(a.stdout)
					if err != nil {
						return err
					}
					password = string(b)
				} else {
					line, _ := in.ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
			}
			if user == "" || password == "" {
				return errors.New("username and password are required")
			}
			cl, _, err := a.registryClient(f, true)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			if _, err := cl.Login(ctx, server, user, password); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Login Succeeded")
			return nil
		},
	}
	f.addTLSVerify(c.Flags())
	c.Flags().StringVarP(&user, "username", "u", "", "Username")
	c.Flags().StringVarP(&password, "password", "p", "", "Password")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "Take the password from stdin")
	return c
}

// loginAgain is docker's login with no user named: the credentials an
// earlier login stored are tried first (done when they work); when there
// are none, or they fail, the user is asked as usual.
func (a *app) loginAgain(ctx context.Context, f registryFlags, server string) (done bool, err error) {
	cl, _, err := a.registryClient(f, true)
	if err != nil {
		return false, err
	}
	user, password, ok, err := cl.StoredLogin(server)
	if err != nil || !ok {
		return false, err
	}
	fmt.Fprintf(a.stderr, "Authenticating with existing credentials... [Username: %s]\n\n", user)
	fmt.Fprint(a.stderr, " Info -> To login with a different account, run 'docker logout' followed by 'docker login'\n\n\n")
	ctx, cancel := interruptible(ctx)
	defer cancel()
	if _, err := cl.Login(ctx, server, user, password); err != nil {
		fmt.Fprintf(a.stderr, "Login did not succeed, error: %v\n", err)
		return false, nil
	}
	fmt.Fprintln(a.stdout, "Login Succeeded")
	return true, nil
}

func newLogoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			cl, _, err := a.registryClient(registryFlags{tlsVerify: true}, true)
			if err != nil {
				return err
			}
			shown := server
			if shown == "" {
				shown = "https://index.docker.io/v1/"
			}
			err = cl.Logout(server)
			if errors.Is(err, registry.ErrNotLoggedIn) {
				fmt.Fprintf(a.stdout, "Not logged in to %s\n", shown)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Removing login credentials for %s\n", shown)
			return nil
		},
	}
}

func hasTagOrDigest(s string) bool {
	if strings.Contains(s, "@") {
		return true
	}
	i := strings.LastIndex(s, "/")
	return strings.Contains(s[i+1:], ":")
}

func newManifestCmd(a *app) *cobra.Command {
	mc := &cobra.Command{Use: "manifest", Short: "Manage manifest lists (multi-platform images) in registries"}
	mc.AddCommand(newManifestInspectCmd(a), newManifestCreateCmd(a), newManifestAnnotateCmd(a), newManifestPushCmd(a), newManifestRmCmd(a))
	return mc
}

// newManifestInspectCmd is `manifest inspect`: it shows a manifest or list, local or in the registry.
func newManifestInspectCmd(a *app) *cobra.Command {
	var inspectFlags registryFlags
	var insecure bool
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] [LIST] NAME",
		Short: "Show an image manifest or manifest list, from the local lists or the registry, without pulling",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if l, err := registry.LoadList(st.Root, args[0]); err == nil {
					raw, _, err := l.Raw()
					if err != nil {
						return err
					}
					a.println(string(raw))
					return nil
				}
			}
			if insecure {
				inspectFlags.tlsVerify = false
			}
			cl, _, err := a.registryClient(inspectFlags, true)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			ref, _, err := cl.Ref(args[len(args)-1])
			if err != nil {
				return err
			}
			doc, err := cl.GetManifest(ctx, ref)
			if err != nil {
				return err
			}
			var v any
			if err := json.Unmarshal(doc.Raw, &v); err != nil {
				return err
			}
			b, err := json.MarshalIndent(v, "", "   ")
			if err != nil {
				return err
			}
			a.println(string(b))
			return nil
		},
	}
	inspectFlags.add(inspect)
	inspect.Flags().Lookup("max-concurrent").Hidden = true
	// docker manifest inspect --insecure: the registry may be plain HTTP
	// or have a certificate not verified (strata's --tls-verify=false).
	inspect.Flags().BoolVar(&insecure, "insecure", false, "Allow communication with an insecure registry")
	return inspect
}

// newManifestCreateCmd is `manifest create`: it makes a local manifest list.
func newManifestCreateCmd(a *app) *cobra.Command {
	var createFlags registryFlags
	var amend bool
	create := &cobra.Command{
		Use:   "create [OPTIONS] LIST IMAGE [IMAGE...]",
		Short: "Create a local manifest list of images that are in a registry",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			cl, _, err := a.registryClient(createFlags, true)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			l, err := cl.CreateList(ctx, st.Root, args[0], args[1:], amend)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created manifest list %s\n", l.Ref)
			return nil
		},
	}
	createFlags.add(create)
	create.Flags().BoolVarP(&amend, "amend", "a", false, "Amend an existing manifest list")
	return create
}

// newManifestAnnotateCmd is `manifest annotate`: it sets an entry's platform in a local list.
func newManifestAnnotateCmd(a *app) *cobra.Command {
	var ann registry.Annotation
	var annotations []string
	annotate := &cobra.Command{
		Use:   "annotate [OPTIONS] LIST IMAGE",
		Short: "Set the platform of an entry of a local manifest list",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			for _, kv := range annotations {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("invalid annotation %q: want KEY=VALUE", kv)
				}
				if ann.Annotations == nil {
					ann.Annotations = map[string]string{}
				}
				ann.Annotations[k] = v
			}
			cl, _, err := a.registryClient(registryFlags{tlsVerify: true}, true)
			if err != nil {
				return err
			}
			return cl.Annotate(st.Root, args[0], args[1], ann)
		},
	}
	annotate.Flags().StringVar(&ann.OS, "os", "", "Set operating system")
	annotate.Flags().StringVar(&ann.Arch, "arch", "", "Set architecture")
	annotate.Flags().StringVar(&ann.Variant, "variant", "", "Set architecture variant")
	annotate.Flags().StringVar(&ann.OSVersion, "os-version", "", "Set operating system version")
	annotate.Flags().StringSliceVar(&ann.OSFeatures, "os-features", nil, "Set operating system feature")
	stringArrayVarP(annotate.Flags(), &annotations, "annotation", "", "Add an annotation KEY=VALUE to the entry")
	return annotate
}

// newManifestPushCmd is `manifest push`: it sends a local list to its registry.
func newManifestPushCmd(a *app) *cobra.Command {
	var pushFlags registryFlags
	var purge bool
	push := &cobra.Command{
		Use:   "push [OPTIONS] LIST",
		Short: "Push a local manifest list to its registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			cl, _, err := a.registryClient(pushFlags, true)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			d, _, err := cl.PushList(ctx, st.Root, args[0])
			if err != nil {
				return err
			}
			if purge {
				if err := registry.RemoveList(st.Root, args[0]); err != nil {
					return err
				}
			}
			a.println(d)
			return nil
		},
	}
	pushFlags.add(push)
	push.Flags().BoolVarP(&purge, "purge", "p", false, "Remove the local manifest list after push")
	return push
}

// newManifestRmCmd is `manifest rm`: it deletes local lists.
func newManifestRmCmd(a *app) *cobra.Command {
	rm := &cobra.Command{
		Use:   "rm LIST [LIST...]",
		Short: "Delete local manifest lists",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			for _, l := range args {
				if err := registry.RemoveList(st.Root, l); err != nil {
					return err
				}
			}
			return nil
		},
	}
	return rm
}
