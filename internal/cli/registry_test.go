package cli

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// regEnv isolates credentials and registry configuration from the machine's.
func regEnv(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(t.TempDir(), "none.json"))
	t.Setenv("STRATA_CONFIG", filepath.Join(t.TempDir(), "none.json"))
}

func randomBytes(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sharedImages makes a base image with a large layer (gzip, as pulled
// images are) and an uncompressed small one (as `import` stores them), and
// an app image with one small layer on top.
func sharedImages(t *testing.T, root string, bigSize int) (base, app *metadata.Image) {
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	base = storetest.Image(t, st, nil, "base:1",
		gz(t, testutil.Tar(t, testutil.Entry{Name: "big.bin", Body: randomBytes(t, bigSize)})),
		testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/os-release", Body: "ID=test\n"}))
	app = storetest.Image(t, st, base, "app:1",
		testutil.Tar(t, testutil.Entry{Name: "app/"}, testutil.Entry{Name: "app/main", Body: randomBytes(t, 200000)}))
	return base, app
}

func mustRun(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, errOut, code := strata(t, root, "", args...)
	if code != 0 {
		t.Fatalf("strata %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func openStore(t *testing.T, root string) *store.Store {
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func fsckClean(t *testing.T, root string) {
	t.Helper()
	r, err := openStore(t, root).Fsck()
	if err != nil || len(r.Problems) > 0 {
		t.Fatalf("fsck: %v %v", err, r.Problems)
	}
}

// TestPushPullRoundTrip: what strata pushes, strata pulls into an empty store
// as the same image (ID, diffIDs), and pushing the pulled image again gives
// the same manifest digest (the manifest is kept byte for byte).
func TestPushPullRoundTrip(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	src := t.TempDir()
	_, app := sharedImages(t, src, 1<<20)
	dest := reg.Host + "/team/app:1"

	out := mustRun(t, src, "push", "app:1", dest)
	for _, want := range []string{"The push refers to repository [" + reg.Host + "/team/app]", ": Pushed", "1: digest: sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	pushedDigest := out[strings.Index(out, "digest: ")+8:]
	pushedDigest = pushedDigest[:strings.Index(pushedDigest, " ")]

	dst := t.TempDir()
	out = mustRun(t, dst, "pull", dest)
	for _, want := range []string{"1: Pulling from team/app", ": Pulling fs layer", ": Pull complete", "Digest: " + pushedDigest, "Status: Downloaded newer image for " + dest} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	got, err := openStore(t, dst).Resolve(dest)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != app.ID {
		t.Errorf("pulled image ID %s, pushed %s", got.ID, app.ID)
	}
	if want := []string{reg.Host + "/team/app@" + pushedDigest}; strings.Join(got.RepoDigests, ",") != want[0] {
		t.Errorf("RepoDigests %v, want %v", got.RepoDigests, want)
	}
	if g, w := got.DiffIDs(), app.DiffIDs(); len(g) != len(w) || g[0] != w[0] || g[len(g)-1] != w[len(w)-1] {
		t.Errorf("diffIDs %v, want %v", g, w)
	}
	// The gzip layer went as it was; the uncompressed ones were compressed.
	if got.Layers[0].Digest != app.Layers[0].Digest {
		t.Errorf("gzip layer changed digest: %s -> %s", app.Layers[0].Digest, got.Layers[0].Digest)
	}
	for i := 1; i < len(got.Layers); i++ {
		if got.Layers[i].MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Errorf("layer %d pushed as %s", i, got.Layers[i].MediaType)
		}
	}
	fsckClean(t, dst)

	// Second pull: nothing fetched, up to date.
	out = mustRun(t, dst, "pull", dest)
	if !strings.Contains(out, "Already exists") || !strings.Contains(out, "Status: Image is up to date for") {
		t.Errorf("second pull:\n%s", out)
	}
	// The pulled manifest is kept byte-exact: pushing it elsewhere gives the
	// same digest, every blob already there.
	out = mustRun(t, dst, "push", dest, reg.Host+"/other/app:copy")
	if !strings.Contains(out, "digest: "+pushedDigest) || strings.Contains(out, ": Pushed") {
		t.Errorf("re-push of pulled image:\n%s", out)
	}
	// --all-tags pulls every tag of the repository.
	mustRun(t, src, "push", "base:1", reg.Host+"/team/app:base")
	allRoot := t.TempDir()
	out = mustRun(t, allRoot, "pull", "-a", reg.Host+"/team/app")
	for _, want := range []string{"1: Pulling from team/app", "base: Pulling from team/app"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull -a lacks %q:\n%s", want, out)
		}
	}
	if nm, _ := openStore(t, allRoot).Names(); len(nm) != 2 {
		t.Errorf("pull -a stored %d images, want 2", len(nm))
	}
	if _, errOut, code := strata(t, allRoot, "", "pull", "-a", reg.Host+"/team/app:1"); code == 0 || !strings.Contains(errOut, "tag can't be used") {
		t.Errorf("pull -a with a tag: %d %s", code, errOut)
	}
	// Pull by digest resolves to the same image, with no new name.
	out = mustRun(t, t.TempDir(), "pull", "-q", reg.Host+"/team/app@"+pushedDigest)
	if strings.TrimSpace(out) != reg.Host+"/team/app@"+pushedDigest {
		t.Errorf("pull -q by digest printed %q", out)
	}
}

// TestSharedBaseOnTheWire counts what crosses the wire: a second image on a
// shared base sends and fetches only its own layer.
func TestSharedBaseOnTheWire(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg.Host)
	src := t.TempDir()
	const big = 8 << 20
	base, app := sharedImages(t, src, big)

	mustRun(t, src, "push", "base:1", proxy.Host+"/lib/base:1")
	if up := proxy.Uploaded(); up < big {
		t.Fatalf("first push sent %d bytes, less than the base layer", up)
	}
	proxy.Reset()
	out := mustRun(t, src, "push", "app:1", proxy.Host+"/lib/app:1")
	appLayer := app.Layers[len(app.Layers)-1]
	if up := proxy.Uploaded(); up > appLayer.UncompressedSize+64<<10 {
		t.Errorf("second push sent %d bytes; its own layer is %d (the base was sent again?)\n%s", up, appLayer.UncompressedSize, out)
	}
	if n := strings.Count(out, "Mounted from lib/base") + strings.Count(out, "Layer already exists"); n != len(base.Layers) {
		t.Errorf("want %d base layers skipped:\n%s", len(base.Layers), out)
	}

	// The same layer pushed again (gzip made of an uncompressed layer): a
	// HEAD hit, no bytes.
	proxy.Reset()
	out = mustRun(t, src, "push", "app:1", proxy.Host+"/lib/app:2")
	if up := proxy.Uploaded(); up != 0 || strings.Contains(out, "Pushed") {
		t.Errorf("third push sent %d bytes:\n%s", up, out)
	}

	// Pull into a store that has the base: only the app layer and config come.
	dst := t.TempDir()
	mustRun(t, dst, "pull", proxy.Host+"/lib/base:1")
	proxy.Reset()
	out = mustRun(t, dst, "pull", proxy.Host+"/lib/app:1")
	if n := strings.Count(out, "Already exists"); n != len(base.Layers) {
		t.Errorf("want %d layers already present:\n%s", len(base.Layers), out)
	}
	if down := proxy.Downloaded(); down > appLayer.UncompressedSize+64<<10 {
		t.Errorf("pull fetched %d bytes (%v); its own layer is %d", down, proxy.BlobGets(), appLayer.UncompressedSize)
	}
	if gets := proxy.BlobGets(); len(gets) != 2 { // the app layer and the config
		t.Errorf("pull fetched blobs %v, want the app layer and its config", gets)
	}
	fsckClean(t, dst)
}

// TestInterruptedPull: a connection cut mid-layer is resumed with a Range
// request for the rest of the layer, and the pull completes with the right
// digests and nothing left over.
func TestInterruptedPull(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg.Host)
	src := t.TempDir()
	sharedImages(t, src, 4<<20)
	mustRun(t, src, "push", "app:1", reg.Host+"/cut/app:1")

	dst := t.TempDir()
	proxy.Corrupt(false)
	proxy.CutNextBlob(1 << 20)
	out := mustRun(t, dst, "pull", "--max-concurrent", "1", proxy.Host+"/cut/app:1")
	if !strings.Contains(out, "Downloaded newer image") {
		t.Errorf("pull through a cut connection:\n%s", out)
	}
	var ranges []string
	for _, r := range proxy.Requests() {
		if r.Range != "" {
			ranges = append(ranges, r.Range)
		}
	}
	if len(ranges) != 1 || !strings.HasPrefix(ranges[0], "bytes=") || ranges[0] == "bytes=0-" {
		t.Errorf("want one Range request for the rest of the cut blob, got %q", ranges)
	}
	fsckClean(t, dst)
	ingest, _ := os.ReadDir(filepath.Join(dst, "blobs", "ingest"))
	if len(ingest) != 0 {
		t.Errorf("temporary blobs left: %d", len(ingest))
	}
}

// TestDigestMismatch: bytes altered on the way are refused; nothing stays.
func TestDigestMismatch(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg.Host)
	src := t.TempDir()
	sharedImages(t, src, 1<<20)
	mustRun(t, src, "push", "base:1", reg.Host+"/bad/base:1")

	dst := t.TempDir()
	proxy.Corrupt(true)
	out, errOut, code := strata(t, dst, "", "pull", proxy.Host+"/bad/base:1")
	if code == 0 {
		t.Fatalf("pull of corrupted blobs succeeded:\n%s", out)
	}
	if !strings.Contains(errOut, "digest") && !strings.Contains(errOut, "invalid layer") {
		t.Errorf("error does not say what is wrong: %q", errOut)
	}
	st := openStore(t, dst)
	if imgs, _ := st.Images(); len(imgs) != 0 {
		t.Errorf("images after a refused pull: %d", len(imgs))
	}
	fsckClean(t, dst)
}

// TestRegistryErrors: each failure is one line and a non-zero exit.
func TestRegistryErrors(t *testing.T) {
	regEnv(t)
	authReg := registrytest.Start(t, registrytest.Options{User: "alice", Password: "s3cret"})
	reg := registrytest.Start(t, registrytest.Options{})
	refused := "127.0.0.1:" + strconv.Itoa(registrytest.FreePort(t))
	root := t.TempDir()
	sharedImages(t, root, 1<<10)

	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"unknown repository", "", []string{"pull", reg.Host + "/no/such:1"}, "not found"},
		{"unknown tag", "", []string{"manifest", "inspect", reg.Host + "/no/such:1"}, "not found"},
		{"connection refused", "", []string{"pull", refused + "/x:1"}, "connection refused"},
		{"push refused", "", []string{"push", "base:1", refused + "/x:1"}, "connection refused"},
		{"anonymous pull needs auth", "", []string{"pull", authReg.Host + "/x:1"}, "unauthorized"},
		{"anonymous push needs auth", "", []string{"push", "base:1", authReg.Host + "/x:1"}, "unauthorized"},
		{"wrong password", "", []string{"login", "-u", "alice", "-p", "wrong", authReg.Host}, "unauthorized"},
		{"wrong password stdin", "nope\n", []string{"login", "-u", "alice", "--password-stdin", authReg.Host}, "unauthorized"},
		{"unknown host", "", []string{"pull", "registry.invalid/x:1"}, "cannot reach"},
		{"bad platform", "", []string{"pull", "--platform", "linux/", reg.Host + "/x:1"}, "invalid platform"},
		{"push unknown image", "", []string{"push", "0123456789ab"}, "No such image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := strata(t, root, c.stdin, c.args...)
			if code == 0 {
				t.Fatalf("exit 0:\n%s", out)
			}
			line := strings.TrimSuffix(errOut, "\n")
			if strings.Contains(line, "\n") && !strings.HasPrefix(line, "WARNING") {
				t.Errorf("error is more than one line: %q", errOut)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("error %q does not say %q", errOut, c.want)
			}
		})
	}
}

// TestLoginPushPull: login saves credentials in docker's config.json, push
// and pull use them, logout removes them.
func TestLoginPushPull(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{User: "alice", Password: "s3cret"})
	root := t.TempDir()
	sharedImages(t, root, 1<<10)

	out, _, code := strata(t, root, "s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Host)
	if code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: %d %s", code, out)
	}
	cfg, err := os.ReadFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))
	if err != nil || !strings.Contains(string(cfg), reg.Host) {
		t.Fatalf("config.json: %v %s", err, cfg)
	}
	// Logged in already, no input: the stored credentials, as docker 28's
	// client on the 20.10 engine (recorded: `docker login localhost:5000
	// </dev/null` printed "Login Succeeded" on stdout, rc 0, and on stderr
	// "Authenticating with existing credentials... [Username: bob]\n\n
	// Info -> To login with a different account, run 'docker logout'
	// followed by 'docker login'\n\n\n").
	out, errOut, code := strata(t, root, "", "login", reg.Host)
	if code != 0 || out != "Login Succeeded\n" || !strings.HasPrefix(errOut, "Authenticating with existing credentials... [Username: alice]\n\n Info -> To login with a different account, run 'docker logout' followed by 'docker login'\n\n\n") {
		t.Errorf("login with stored credentials: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	mustRun(t, root, "push", "app:1", reg.Host+"/private/app:1")
	mustRun(t, t.TempDir(), "pull", reg.Host+"/private/app:1")
	if out := mustRun(t, root, "logout", reg.Host); !strings.Contains(out, "Removing login credentials for "+reg.Host) {
		t.Errorf("logout: %s", out)
	}
	if _, _, code := strata(t, t.TempDir(), "", "pull", reg.Host+"/private/app:1"); code == 0 {
		t.Error("pull after logout succeeded")
	}
	if out := mustRun(t, root, "logout", reg.Host); !strings.Contains(out, "Not logged in") {
		t.Errorf("second logout: %s", out)
	}
	// Nothing stored: asked for, and no input is an error.
	if out, errOut, code := strata(t, root, "", "login", reg.Host); code == 0 || out != "Username: " || !strings.Contains(errOut, "username is required") {
		t.Errorf("login after logout with no input: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestManifestList: create a list of two images, annotate one as arm64,
// push, inspect it from the registry, pull each platform.
func TestManifestList(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	root := t.TempDir()
	base, app := sharedImages(t, root, 1<<10)
	mustRun(t, root, "push", "base:1", reg.Host+"/multi/amd:1")
	mustRun(t, root, "push", "app:1", reg.Host+"/multi/arm:1")
	list := reg.Host + "/multi/list:1"

	mustRun(t, root, "manifest", "create", list, reg.Host+"/multi/amd:1", reg.Host+"/multi/arm:1")
	mustRun(t, root, "manifest", "annotate", "--arch", "arm64", "--variant", "v8", list, reg.Host+"/multi/arm:1")
	if _, _, code := strata(t, root, "", "manifest", "create", list, reg.Host+"/multi/amd:1"); code == 0 {
		t.Error("create over an existing list without --amend succeeded")
	}
	out := mustRun(t, root, "manifest", "push", list)
	if !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("manifest push printed %q", out)
	}
	out = mustRun(t, root, "manifest", "inspect", list)
	var idx ocispec.Index
	if err := json.Unmarshal([]byte(out), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	if p := idx.Manifests[1].Platform; p == nil || p.Architecture != "arm64" || p.Variant != "v8" {
		t.Errorf("annotated entry: %+v", p)
	}
	mustRun(t, root, "manifest", "rm", list)
	// Inspect from the registry (no local list any more).
	out = mustRun(t, root, "manifest", "inspect", list)
	if !strings.Contains(out, `"arm64"`) {
		t.Errorf("registry inspect:\n%s", out)
	}
	for _, c := range []struct {
		platform string
		want     digest.Digest
	}{{"", base.ID}, {"linux/arm64", app.ID}, {"linux/arm64/v8", app.ID}} {
		dst := t.TempDir()
		args := []string{"pull", list}
		if c.platform != "" {
			args = []string{"pull", "--platform", c.platform, list}
		}
		mustRun(t, dst, args...)
		im, err := openStore(t, dst).Resolve(list)
		if err != nil || im.ID != c.want {
			t.Errorf("--platform %q: got %v %v, want %s", c.platform, im, err, c.want)
		}
	}
	if _, errOut, code := strata(t, t.TempDir(), "", "pull", "--platform", "linux/s390x", list); code == 0 || !strings.Contains(errOut, "no matching manifest") {
		t.Errorf("pull of a missing platform: %d %s", code, errOut)
	}
}

// TestSkopeoInterop: what strata pushes skopeo reads with the same digests;
// what skopeo pushes strata pulls.
func TestSkopeoInterop(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	root := t.TempDir()
	_, app := sharedImages(t, root, 1<<20)
	out := mustRun(t, root, "push", "app:1", reg.Host+"/interop/app:1")
	pushed := digest.Digest(strings.Fields(out[strings.Index(out, "digest: "):])[1])

	dir := filepath.Join(t.TempDir(), "oci")
	skopeo := func(args ...string) {
		t.Helper()
		cmd := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, b)
		}
	}
	skopeo("copy", "--src-tls-verify=false", "docker://"+reg.Host+"/interop/app:1", "oci:"+dir+":app")
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("skopeo's index.json: %v %s", err, b)
	}
	if idx.Manifests[0].Digest != pushed {
		t.Errorf("skopeo read manifest %s, strata pushed %s", idx.Manifests[0].Digest, pushed)
	}
	mb, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", pushed.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	json.Unmarshal(mb, &m)
	if m.Config.Digest != app.ID {
		t.Errorf("skopeo's config %s, want %s", m.Config.Digest, app.ID)
	}

	// skopeo pushes (recompressing nothing: the OCI dir's blobs as they are).
	skopeo("copy", "--dest-tls-verify=false", "oci:"+dir+":app", "docker://"+reg.Host+"/interop/fromskopeo:1")
	dst := t.TempDir()
	out = mustRun(t, dst, "pull", reg.Host+"/interop/fromskopeo:1")
	im, err := openStore(t, dst).Resolve(reg.Host + "/interop/fromskopeo:1")
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != app.ID || im.Manifest.Digest != pushed {
		t.Errorf("pulled from skopeo's push: id %s manifest %s, want %s %s\n%s", im.ID, im.Manifest.Digest, app.ID, pushed, out)
	}
	for i, l := range im.Layers {
		if l.Digest != m.Layers[i].Digest {
			t.Errorf("layer %d: %s, skopeo has %s", i, l.Digest, m.Layers[i].Digest)
		}
	}
	fsckClean(t, dst)
}

// TestPodmanInterop: what strata pushes podman pulls as the same image (ID),
// and what podman pushes strata pulls as the same image.
func TestPodmanInterop(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	root := t.TempDir()
	_, app := sharedImages(t, root, 1<<20)
	mustRun(t, root, "push", "app:1", reg.Host+"/interop/app:1")

	pdir := t.TempDir()
	auth := filepath.Join(pdir, "auth.json")
	if err := os.WriteFile(auth, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	podman := func(args ...string) string {
		t.Helper()
		base := []string{"--root", filepath.Join(pdir, "root"), "--runroot", filepath.Join(pdir, "run"), "--storage-driver", "vfs"}
		cmd := exec.Command("podman", append(base, args...)...)
		cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+auth)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	podman("pull", "-q", "--tls-verify=false", reg.Host+"/interop/app:1")
	if id := podman("image", "inspect", "--format", "{{.Id}}", reg.Host+"/interop/app:1"); id != app.ID.Encoded() {
		t.Fatalf("podman pulled image %s, strata pushed %s", id, app.ID.Encoded())
	}
	podman("push", "-q", "--tls-verify=false", reg.Host+"/interop/app:1", reg.Host+"/interop/frompodman:1")
	dst := t.TempDir()
	mustRun(t, dst, "pull", reg.Host+"/interop/frompodman:1")
	im, err := openStore(t, dst).Resolve(reg.Host + "/interop/frompodman:1")
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != app.ID {
		t.Errorf("pulled from podman's push: id %s, want %s", im.ID, app.ID)
	}
	fsckClean(t, dst)
}

// TestAnalyzeRemote: analyze reads an image from a registry without pulling
// it, and finds the same figures as for the image in the store.
func TestAnalyzeRemote(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	root := t.TempDir()
	sharedImages(t, root, 1<<20)
	mustRun(t, root, "push", "app:1", reg.Host+"/analyze/app:1")
	figures := func(out string) string {
		var r struct {
			SizeBytes   int64
			Efficiency  float64
			WastedBytes int64
			Layers      []struct {
				Size  int64
				Added struct{ Files, Bytes int64 }
			}
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("analyze JSON: %v\n%s", err, out)
		}
		return fmt.Sprintf("%+v", r)
	}
	local := figures(mustRun(t, root, "analyze", "--format", "json", "app:1"))
	empty := filepath.Join(t.TempDir(), "never-created")
	remote := figures(mustRun(t, empty, "analyze", "--format", "json", "docker://"+reg.Host+"/analyze/app:1"))
	t.Logf("figures: %s", local)
	if local != remote {
		t.Errorf("remote figures %s, local %s", remote, local)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("analyzing a remote image made a store at %s", empty)
	}
	if _, errOut, code := strata(t, root, "", "analyze", "docker://"+reg.Host+"/analyze/nope:1"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown remote image: exit %d, %s", code, errOut)
	}
}
