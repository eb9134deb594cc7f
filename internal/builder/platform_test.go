package builder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/executor"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// withHost makes the build take this machine for p (and restores it), so
// that which platform is foreign does not depend on where tests run.
func withHost(t *testing.T, p string) {
	t.Helper()
	hp, err := image.ParsePlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	old := hostPlatform
	hostPlatform = func() image.Platform { return hp }
	t.Cleanup(func() { hostPlatform = old })
}

// withBinfmt points the emulator lookup at a directory holding these
// handlers (name -> the kernel's text for it).
func withBinfmt(t *testing.T, handlers map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for n, text := range handlers {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := binfmtDir
	binfmtDir = dir
	t.Cleanup(func() { binfmtDir = old })
}

// The handlers as the kernel lists them (qemu-user-static's registrations).
const (
	qemuAarch64 = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	qemuArm = "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: POCF\noffset 0\n" +
		"magic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	qemuS390x = "enabled\ninterpreter /usr/bin/qemu-s390x-static\nflags: F\noffset 0\n" +
		"magic 7f454c4602020100000000000000000000020016\nmask ffffffffffffff00fffffffffffffffffffeffff\n"
	extHandler = "enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n"
)

// fakeExecutor stands in for the container runtime: it records each RUN
// and writes the file /ran, holding the command and its environment, into
// the command's snapshot, from which the build writes the layer as usual.
type fakeExecutor struct {
	mu    sync.Mutex
	calls []executor.Spec
}

func (f *fakeExecutor) Run(ctx context.Context, s executor.Spec) (int, error) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
	rootfs := filepath.Join(s.Bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return 0, err
	}
	if err := snapshot.All(s.Rootfs, rootfs); err != nil {
		return 0, err
	}
	defer snapshot.Unmount(rootfs)
	body := strings.Join(s.Process.Args, " ") + "\n" + strings.Join(s.Process.Env, "\n") + "\n"
	return 0, os.WriteFile(filepath.Join(rootfs, "ran"), []byte(body), 0o644)
}

// ran returns the RUNs recorded and forgets them.
func (f *fakeExecutor) ran() []executor.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

func TestCanExec(t *testing.T) {
	withHost(t, "linux/amd64")
	for _, c := range []struct {
		name     string
		handlers map[string]string
		platform string
		want     string // "" = runs; else part of the error
	}{
		{"own platform", nil, "linux/amd64", ""},
		{"own platform, any variant asked", nil, "linux/amd64/v2", ""},
		{"386 on amd64", nil, "linux/386", ""},
		{"no handlers", nil, "linux/arm64", "no emulator for linux/arm64 is registered in binfmt_misc"},
		{"aarch64 handler", map[string]string{"qemu-aarch64": qemuAarch64, "status": "enabled\n"}, "linux/arm64", ""},
		{"aarch64 handler, arm64/v8", map[string]string{"qemu-aarch64": qemuAarch64}, "linux/arm64/v8", ""},
		{"aarch64 handler does not run arm", map[string]string{"qemu-aarch64": qemuAarch64}, "linux/arm/v7", "no emulator for linux/arm/v7"},
		{"arm handler", map[string]string{"qemu-arm": qemuArm}, "linux/arm/v7", ""},
		{"big-endian s390x handler", map[string]string{"qemu-s390x": qemuS390x}, "linux/s390x", ""},
		{"handler disabled", map[string]string{"qemu-aarch64": strings.Replace(qemuAarch64, "enabled", "disabled", 1)}, "linux/arm64", "no emulator"},
		{"binfmt_misc disabled", map[string]string{"qemu-aarch64": qemuAarch64, "status": "disabled\n"}, "linux/arm64", "no emulator"},
		{"handler without F", map[string]string{"qemu-aarch64": strings.Replace(qemuAarch64, "POCF", "PO", 1)}, "linux/arm64", "registered without the F flag"},
		{"extension handler only", map[string]string{"wine": extHandler}, "linux/arm64", "no emulator"},
		{"unknown architecture", map[string]string{"qemu-aarch64": qemuAarch64}, "linux/vax", "cannot tell which binfmt_misc handler"},
		{"other OS", nil, "windows/amd64", "RUN runs linux programs only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			withBinfmt(t, c.handlers)
			p, err := image.ParsePlatform(c.platform)
			if err != nil {
				t.Fatal(err)
			}
			err = canExec(p)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want it to run", err)
				}
				return
			}
			var ee *EmulationError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want an EmulationError saying %q on one line", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "this step needs to run a "+p.String()+" binary and this machine (linux/amd64) cannot: ") {
				t.Errorf("message: %s", err)
			}
		})
	}
	// A missing directory is no handlers at all.
	old := binfmtDir
	binfmtDir = filepath.Join(t.TempDir(), "absent")
	defer func() { binfmtDir = old }()
	if err := canExec(image.Platform{OS: "linux", Architecture: "arm64"}); err == nil || !strings.Contains(err.Error(), "no emulator") {
		t.Errorf("missing binfmt_misc: %v", err)
	}
}

// TestBinfmtHere reads this machine's real binfmt_misc: whatever it holds,
// the reader does not fail, this machine's platform runs, and a foreign
// platform runs exactly when an enabled handler with F matches it.
func TestBinfmtHere(t *testing.T) {
	hs, err := readBinfmt(binfmtDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d handlers", binfmtDir, len(hs))
	host := hostPlatform()
	if err := canExec(host); err != nil {
		t.Fatalf("this machine's own platform: %v", err)
	}
	foreign := image.Platform{OS: "linux", Architecture: "arm64"}
	if host.Architecture == "arm64" {
		foreign.Architecture = "amd64"
	}
	hdr, _ := elfHeader(foreign)
	handled := false
	for _, h := range hs {
		if h.enabled && strings.Contains(h.flags, "F") && h.matches(hdr) {
			handled = true
		}
	}
	err = canExec(foreign)
	var ee *EmulationError
	if handled != (err == nil) || (err != nil && !errors.As(err, &ee)) {
		t.Errorf("%s: handler found %v, canExec %v", foreign, handled, err)
	}
}

func TestPlatformArgs(t *testing.T) {
	for _, c := range []struct {
		target, host string
		want         string // TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT
	}{
		{"linux/amd64", "linux/amd64", "linux/amd64 linux amd64  linux/amd64 linux amd64 "},
		{"linux/arm64/v8", "linux/amd64", "linux/arm64 linux arm64  linux/amd64 linux amd64 "},
		{"linux/arm", "linux/arm64", "linux/arm/v7 linux arm v7 linux/arm64 linux arm64 "},
		{"linux/arm/v6", "linux/amd64", "linux/arm/v6 linux arm v6 linux/amd64 linux amd64 "},
	} {
		tp, _ := image.ParsePlatform(c.target)
		hp, _ := image.ParsePlatform(c.host)
		m := platformArgs(tp, hp)
		var got []string
		for _, k := range []string{"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"} {
			got = append(got, m[k])
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s on %s: %q, want %q", c.target, c.host, g, c.want)
		}
	}
}

// platformRegistry is a test registry with multi:1, an index of a linux/amd64
// and a linux/arm64 image, and amdonly:1, a linux/amd64 image alone; each
// image's /etc/platform says which it is. The store holds a different
// linux/amd64 image under both names (its /etc/platform says "local").
type platformRegistry struct {
	reg        *registrytest.Registry
	multi      string // host/multi:1
	amdOnly    string // host/amdonly:1
	armLayer   digest.Digest
	localMulti *metadata.Image
}

func platformLayer(t *testing.T, body string) []byte {
	return testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/platform", Body: body + "\n"})
}

func newPlatformRegistry(t *testing.T, e *env) *platformRegistry {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t, registrytest.Options{})
	armTar := platformLayer(t, "linux/arm64")
	amd := reg.PutImage(t, "multi", "", "linux/amd64", platformLayer(t, "linux/amd64"))
	arm := reg.PutImage(t, "multi", "", "linux/arm64/v8", armTar)
	reg.PutIndex(t, "multi", "1", amd, arm)
	reg.PutImage(t, "amdonly", "1", "linux/amd64", platformLayer(t, "linux/amd64"))
	pr := &platformRegistry{reg: reg, multi: reg.Host + "/multi:1", amdOnly: reg.Host + "/amdonly:1", armLayer: digest.FromBytes(armTar)}
	pr.localMulti = storetest.PlatformImage(t, e.st, pr.multi, "linux/amd64", platformLayer(t, "local"))
	storetest.PlatformImage(t, e.st, pr.amdOnly, "linux/amd64", platformLayer(t, "local"))
	return pr
}

// puller is the registry client as the CLI sets it up for a build.
func puller(st *store.Store) func(context.Context, PullRequest) (*metadata.Image, error) {
	return func(ctx context.Context, req PullRequest) (*metadata.Image, error) {
		plat, err := image.ParsePlatform(req.Platform)
		if err != nil {
			return nil, err
		}
		cl, err := registry.New(registry.Options{TLSVerify: true, ConfigFiles: []string{}})
		if err != nil {
			return nil, err
		}
		res, err := cl.PullWith(ctx, st, req.Ref, registry.PullOptions{Platform: plat, Strict: true, NoName: !req.Name})
		if err != nil {
			return nil, err
		}
		return res.Image, nil
	}
}

// storeState lists the store's images with their names, to see that a
// failed build changed nothing.
func storeState(t *testing.T, st *store.Store) string {
	names, err := st.Names()
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := st.Images()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, im := range imgs {
		n := append([]string{}, names[im.ID]...)
		sort.Strings(n)
		out = append(out, im.ID.String()+" "+strings.Join(n, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func configOf(t *testing.T, st *store.Store, id digest.Digest) *image.ConfigFile {
	t.Helper()
	im, err := st.Image(id)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := st.Config(im)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// hasFile reports whether the image has the file name holding body.
func hasFile(t *testing.T, st *store.Store, id digest.Digest, name, body string) bool {
	t.Helper()
	im, err := st.Image(id)
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := imageFS(st, im)
	if err != nil {
		t.Fatal(err)
	}
	sum := digest.FromString(body).Encoded()[:16]
	for _, l := range fs.Diff(emptyFS()) {
		if strings.HasPrefix(l, "+ "+name+" file ") && strings.HasSuffix(l, " "+sum) {
			return true
		}
	}
	return false
}

// TestBuildForPlatform: builds for a platform other than this machine's,
// against a real registry and store.
func TestBuildForPlatform(t *testing.T) {
	withHost(t, "linux/amd64")
	fake := &fakeExecutor{}
	files := map[string]string{"a.txt": "a\n"}
	type check func(t *testing.T, e *env, pr *platformRegistry, res *Result, out string)
	for _, c := range []struct {
		name       string
		dockerfile string // {{multi}} and {{amdonly}} name the registry's images
		platform   string
		binfmt     map[string]string
		wantErr    string // part of the one-line error; the store must be unchanged
		golden     string
		check      check
	}{
		{
			name: "COPY on an index base picks the arm64 manifest", dockerfile: "FROM {{multi}}\nCOPY a.txt /a.txt\n", platform: "linux/arm64",
			golden: "platform-arm64-copy.txt",
			check: func(t *testing.T, e *env, pr *platformRegistry, res *Result, out string) {
				cfg := configOf(t, e.st, res.ImageID)
				if cfg.OS != "linux" || cfg.Architecture != "arm64" {
					t.Errorf("config platform %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
				}
				if len(cfg.RootFS.DiffIDs) != 2 || cfg.RootFS.DiffIDs[0] != pr.armLayer {
					t.Errorf("layers %v, want the arm64 image's %s first", cfg.RootFS.DiffIDs, pr.armLayer)
				}
				if !hasFile(t, e.st, res.ImageID, "/etc/platform", "linux/arm64\n") {
					t.Errorf("/etc/platform is not the arm64 image's")
				}
				// The name still means the image for this machine.
				if im, err := e.st.Resolve(pr.multi); err != nil || im.ID != pr.localMulti.ID {
					t.Errorf("%s now names %v (%v), want the local amd64 image", pr.multi, im, err)
				}
			},
		},
		{
			name: "the amd64 image in the store is used for amd64", dockerfile: "FROM {{multi}}\nCOPY a.txt /a.txt\n", platform: "linux/amd64",
			check: func(t *testing.T, e *env, pr *platformRegistry, res *Result, out string) {
				if !hasFile(t, e.st, res.ImageID, "/etc/platform", "local\n") || strings.Contains(out, "pulling") {
					t.Errorf("not built on the stored image:\n%s", out)
				}
			},
		},
		{
			name: "amd64-only base for arm64", dockerfile: "FROM {{amdonly}}\nCOPY a.txt /a.txt\n", platform: "linux/arm64",
			wantErr: "base image {{amdonly}}: no match for platform in manifest: want linux/arm64, the image is linux/amd64",
			golden:  "platform-no-match.txt",
		},
		{
			name: "index without the platform", dockerfile: "FROM {{multi}}\n", platform: "linux/s390x",
			wantErr: "base image {{multi}}: no matching manifest for linux/s390x in the manifest list entries (it has: [linux/amd64 linux/arm64/v8])",
		},
		{
			name: "invalid platform", dockerfile: "FROM scratch\n", platform: "linux/", wantErr: `invalid platform "linux/"`,
		},
		{
			name: "FROM scratch for arm/v7", dockerfile: "FROM scratch\nCOPY a.txt /\n", platform: "linux/arm",
			check: func(t *testing.T, e *env, pr *platformRegistry, res *Result, out string) {
				if cfg := configOf(t, e.st, res.ImageID); cfg.Architecture != "arm" || cfg.Variant != "v7" {
					t.Errorf("config platform %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
				}
			},
		},
		{
			name: "RUN for arm64 without an emulator", dockerfile: "FROM scratch\nCOPY a.txt /\nRUN ./a.txt\n", platform: "linux/arm64",
			wantErr: "Dockerfile:3: RUN ./a.txt: this step needs to run a linux/arm64 binary and this machine (linux/amd64) cannot: no emulator for linux/arm64 is registered in binfmt_misc",
			golden:  "platform-run-no-emulator.txt",
		},
		{
			name: "RUN for arm64 with qemu registered", dockerfile: "FROM {{multi}}\nRUN ./a.txt\n", platform: "linux/arm64",
			binfmt: map[string]string{"qemu-aarch64": qemuAarch64},
			check: func(t *testing.T, e *env, pr *platformRegistry, res *Result, out string) {
				if calls := fake.ran(); len(calls) != 1 {
					t.Errorf("%d RUNs ran", len(calls))
				}
				if cfg := configOf(t, e.st, res.ImageID); cfg.Architecture != "arm64" {
					t.Errorf("config platform %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
				}
			},
		},
		{
			name: "FROM --platform=$BUILDPLATFORM",
			dockerfile: "FROM --platform=$BUILDPLATFORM {{multi}} AS build\nARG TARGETPLATFORM\nARG BUILDPLATFORM\nARG TARGETARCH\n" +
				"RUN echo built on $BUILDPLATFORM for $TARGETPLATFORM\n" +
				"FROM scratch\nCOPY --from=build /ran /etc/platform /\n",
			platform: "linux/arm64",
			golden:   "platform-buildplatform.txt",
			check: func(t *testing.T, e *env, pr *platformRegistry, res *Result, out string) {
				calls := fake.ran()
				if len(calls) != 1 {
					t.Fatalf("%d RUNs ran", len(calls))
				}
				env := strings.Join(calls[0].Process.Env, " ")
				for _, want := range []string{"BUILDPLATFORM=linux/amd64", "TARGETPLATFORM=linux/arm64", "TARGETARCH=arm64"} {
					if !strings.Contains(env, want) {
						t.Errorf("RUN's environment lacks %s: %s", want, env)
					}
				}
				// The build stage ran on this machine's image, the
				// result is for the target.
				if !hasFile(t, e.st, res.ImageID, "/platform", "local\n") {
					t.Errorf("/platform is not the stored image's")
				}
				if cfg := configOf(t, e.st, res.ImageID); cfg.Architecture != "arm64" {
					t.Errorf("config platform %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake.ran()
			withBinfmt(t, c.binfmt)
			e := newEnv(t, files)
			pr := newPlatformRegistry(t, e)
			subst := strings.NewReplacer("{{multi}}", pr.multi, "{{amdonly}}", pr.amdOnly)
			before := storeState(t, e.st)
			tag, _ := image.ParseTagged("out:1")
			res, out, err := e.build(Options{Dockerfile: []byte(subst.Replace(c.dockerfile)), Platform: c.platform, Executor: fake,
				Tags: []image.Reference{tag}, Puller: puller(e.st)})
			if c.golden != "" {
				testutil.Golden(t, "testdata/golden/"+c.golden, stable(strings.NewReplacer(pr.reg.Host, "<registry>", binfmtDir, "<binfmt_misc>").Replace(out)))
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), subst.Replace(c.wantErr)) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %v, want one line saying %q\n%s", err, subst.Replace(c.wantErr), out)
				}
				if len(fake.ran()) != 0 {
					t.Errorf("a RUN was started")
				}
				if after := storeState(t, e.st); after != before {
					t.Errorf("the failed build changed the store:\n%s\nwas\n%s", after, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if im, err := e.st.Resolve("out:1"); err != nil || im.ID != res.ImageID {
				t.Errorf("out:1: %v %v", im, err)
			}
			if c.check != nil {
				c.check(t, e, pr, res, out)
			}
		})
	}
}

// TestPlatformCacheApart: the same Dockerfile built for amd64 and for
// arm64 shares no step, and each rebuild hits every one of its own.
func TestPlatformCacheApart(t *testing.T) {
	withHost(t, "linux/amd64")
	withBinfmt(t, map[string]string{"qemu-aarch64": qemuAarch64})
	for _, base := range []string{"scratch", "{{multi}}"} {
		t.Run(base, func(t *testing.T) {
			e := newEnv(t, map[string]string{"a.txt": "a\n"})
			pr := newPlatformRegistry(t, e)
			df := strings.ReplaceAll("FROM "+base+"\nCOPY a.txt /\nWORKDIR /w\nRUN ./a.txt\n", "{{multi}}", pr.multi)
			build := func(platform string) *Result {
				res, out, err := e.build(Options{Dockerfile: []byte(df), Platform: platform, Puller: puller(e.st), Executor: &fakeExecutor{}})
				if err != nil {
					t.Fatalf("%s: %v\n%s", platform, err, out)
				}
				return res
			}
			amd := build("linux/amd64")
			arm := build("linux/arm64")
			if arm.Cached != 0 || arm.Built != 3 || arm.ImageID == amd.ImageID {
				t.Errorf("arm64 after amd64: %d cached, %d built, same image %v", arm.Cached, arm.Built, arm.ImageID == amd.ImageID)
			}
			for _, p := range []string{"linux/amd64", "linux/arm64/v8"} {
				res := build(p)
				want := amd.ImageID
				if p != "linux/amd64" {
					want = arm.ImageID
				}
				if res.Cached != 3 || res.Built != 0 || res.ImageID != want {
					t.Errorf("rebuild for %s: %d cached, %d built, image %s want %s", p, res.Cached, res.Built, res.ImageID, want)
				}
			}
		})
	}
}
