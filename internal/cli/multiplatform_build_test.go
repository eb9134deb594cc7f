package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/container/containertest"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/testutil"
)

// multiBusyboxRoot is a store holding busybox:multi, a linux/amd64 and
// linux/arm64 busybox, and a build context with the Dockerfiles given.
func multiBusyboxRoot(t *testing.T, dockerfiles map[string]string) (root, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root = t.TempDir()
	containertest.MultiBusyboxImage(t, openStore(t, root), "busybox:multi")
	dir = t.TempDir()
	for name, text := range dockerfiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, dir
}

// TestBuildMultiPlatform: one build for linux/amd64 and linux/arm64 on a
// multi-platform busybox; the arm64 RUN runs through qemu-user
// (binfmt_misc), and run --platform picks each platform's image.
func TestBuildMultiPlatform(t *testing.T) {
	root, dir := multiBusyboxRoot(t, map[string]string{"Dockerfile": "FROM busybox:multi\nRUN uname -m > /arch\n"})
	if out, errOut, code := strata(t, root, "", "build", "--progress", "plain", "--timestamp", "0", "--platform", "linux/amd64,linux/arm64", "-t", "app:multi", dir); code != 0 {
		t.Fatalf("build: %s\n%s", out, errOut)
	} else if !strings.Contains(errOut, "[linux/arm64 2/2] RUN uname -m > /arch") {
		t.Errorf("the steps are not labelled with their platform:\n%s", errOut)
	}
	for _, c := range []struct{ platform, want string }{
		{"linux/arm64", "aarch64\n"}, {"linux/amd64", "x86_64\n"}, {"", "x86_64\n"},
	} {
		args := []string{"run", "--rm"}
		if c.platform != "" {
			args = append(args, "--platform", c.platform)
		}
		out, errOut, code := strata(t, root, "", append(args, "app:multi", "cat", "/arch")...)
		if code != 0 || out != c.want {
			t.Errorf("run --platform %q: %q (exit %d) %s, want %q", c.platform, out, code, errOut, c.want)
		}
	}
	out, _, _ := strata(t, root, "", "images", "--tree")
	if !regexp.MustCompile(`(?m)^app:multi\s.*\n├─ linux/amd64\s.*\n└─ linux/arm64\s`).MatchString(out) {
		t.Errorf("images --tree:\n%s", out)
	}
	pushAndRead(t, root, "app:multi")
	saveAndLoad(t, root, "app:multi")
}

// saveAndLoad: an oci-archive holds the whole multi-platform image (the
// same index, which skopeo reads, and both platforms after a load); a
// docker-archive one platform, --platform's or this machine's.
func saveAndLoad(t *testing.T, root, name string) {
	id, _, _ := strata(t, root, "", "inspect", "--format", "{{.Id}}", name)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string // after a load into an empty store
	}{
		{[]string{"--format", "oci-archive"}, id + "├─ linux/amd64\n└─ linux/arm64\n"},
		{[]string{"--platform", "linux/arm64"}, "arm64\n"},
		{nil, "amd64\n"},
	} {
		archive := filepath.Join(dir, "a.tar")
		if out, errOut, code := strata(t, root, "", append(append([]string{"save", "-o", archive}, c.args...), name)...); code != 0 {
			t.Fatalf("save %v: %s %s", c.args, out, errOut)
		}
		fresh := t.TempDir()
		if out, errOut, code := strata(t, fresh, "", "load", "-i", archive); code != 0 || !strings.Contains(out, "Loaded image: "+name) {
			t.Fatalf("load of save %v: %s %s", c.args, out, errOut)
		}
		var got string
		if c.args == nil || c.args[0] == "--platform" {
			got, _, _ = strata(t, fresh, "", "inspect", "--format", "{{.Architecture}}", name)
		} else {
			got, _, _ = strata(t, fresh, "", "inspect", "--format", "{{.Id}}", name)
			tree, _, _ := strata(t, fresh, "", "images", "--tree")
			for _, l := range strings.Split(tree, "\n") {
				if strings.HasPrefix(l, "├─") || strings.HasPrefix(l, "└─") {
					got += strings.Fields(l)[0] + " " + strings.Fields(l)[1] + "\n"
				}
			}
			if raw := skopeoRun(t, "inspect", "--raw", "oci-archive:"+archive); digest.FromString(raw).String()+"\n" != id {
				t.Errorf("skopeo reads the archive's index as %s, want %s", digest.FromString(raw), id)
			}
		}
		if got != c.want {
			t.Errorf("save %v, load: %q, want %q", c.args, got, c.want)
		}
	}
}

// pushAndRead pushes the multi-platform image name to a registry and
// reads it back with skopeo: the index skopeo gets is the one push
// reported, lists both platforms, and copy --all fetches every manifest
// with the digest the index names.
func pushAndRead(t *testing.T, root, name string) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	dest := reg.Host + "/app:multi"
	out, errOut, code := strata(t, root, "", "push", name, dest)
	if code != 0 {
		t.Fatalf("push: %s %s", out, errOut)
	}
	m := regexp.MustCompile(`(?m)^multi: digest: (sha256:[0-9a-f]{64}) size: (\d+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "linux/amd64: digest: ") || !strings.Contains(out, "linux/arm64: digest: ") {
		t.Fatalf("push printed:\n%s", out)
	}
	raw := skopeoRun(t, "inspect", "--raw", "--tls-verify=false", "docker://"+dest)
	if got := digest.FromString(raw).String(); got != m[1] {
		t.Errorf("skopeo reads an index of digest %s, push said %s", got, m[1])
	}
	var idx ocispec.Index
	if err := json.Unmarshal([]byte(raw), &idx); err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, d := range idx.Manifests {
		plats = append(plats, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	if strings.Join(plats, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("the pushed index lists %v", plats)
	}
	podmanPull(t, dest, m[1], idx)
	layout := t.TempDir()
	skopeoRun(t, "copy", "--all", "--src-tls-verify=false", "docker://"+dest, "oci:"+layout+":multi")
	for _, d := range idx.Manifests {
		b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", d.Digest.Encoded()))
		if err != nil || digest.FromBytes(b) != d.Digest {
			t.Errorf("copy --all: manifest %s: %v", d.Digest, err)
		}
	}
}

// TestBuildPush: build --push sends every platform and the index to the
// registry and keeps no name here; --load keeps it too.
func TestBuildPush(t *testing.T) {
	root, dir := multiBusyboxRoot(t, map[string]string{"Dockerfile": "FROM busybox:multi\nCOPY Dockerfile /\n"})
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	for _, c := range []struct {
		tag  string
		load bool
	}{{"pushed:1", false}, {"loaded:1", true}} {
		args := []string{"build", "--push", "--platform", "linux/amd64,linux/arm64", "-t", reg.Host + "/" + c.tag, dir}
		if c.load {
			args = append(args, "--load")
		}
		out, errOut, code := strata(t, root, "", args...)
		if code != 0 || !strings.Contains(out, "linux/arm64: digest: ") {
			t.Fatalf("%v: %s %s", args, out, errOut)
		}
		raw := skopeoRun(t, "inspect", "--raw", "--tls-verify=false", "docker://"+reg.Host+"/"+c.tag)
		if !strings.Contains(raw, `"architecture":"arm64"`) {
			t.Errorf("%s in the registry: %s", c.tag, raw)
		}
		_, _, code = strata(t, root, "", "inspect", reg.Host+"/"+c.tag)
		if (code == 0) != c.load {
			t.Errorf("%s kept here: %v, want %v", c.tag, code == 0, c.load)
		}
	}
	if _, errOut, code := strata(t, root, "", "build", "--push", dir); code != 1 || !strings.Contains(errOut, "--push needs a name") {
		t.Errorf("--push without -t: exit %d %s", code, errOut)
	}
}

// TestBuildCrossCompile: a stage FROM --platform=$BUILDPLATFORM runs on
// this machine once for both targets up to its first use of TARGETARCH;
// the step that uses it runs per target, and each target's image has what
// its own RUN made.
func TestBuildCrossCompile(t *testing.T) {
	root, dir := multiBusyboxRoot(t, map[string]string{"Dockerfile": `FROM --platform=$BUILDPLATFORM busybox:multi AS build
RUN echo toolchain for $(uname -m) > /toolchain
ARG TARGETARCH
RUN echo "$(cat /toolchain), output for $TARGETARCH" > /out
FROM busybox:multi
COPY --from=build /out /out
RUN echo "$(cat /out), run on $(uname -m)" > /result
`})
	_, errOut, code := strata(t, root, "", "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64", "-t", "cross:1", dir)
	if code != 0 {
		t.Fatalf("build: %s", errOut)
	}
	// Plain progress: "#N [linux/arm64 build 2/3] RUN ...", then "#N
	// CACHED" for a cache hit.
	ran := func(step string) (run, cached int) {
		re := regexp.MustCompile(`(?m)^#(\d+) \[linux/\w+ build \d/\d\] RUN ` + regexp.QuoteMeta(step) + `[^\n]*\n(#\d+ CACHED)?`)
		for _, m := range re.FindAllStringSubmatch(errOut, -1) {
			if m[2] != "" {
				cached++
			} else {
				run++
			}
		}
		return run, cached
	}
	if run, cached := ran("echo toolchain"); run != 1 || cached != 1 {
		t.Errorf("the $BUILDPLATFORM step ran %d times, was cached %d times, want once each:\n%s", run, cached, errOut)
	}
	if run, cached := ran(`echo "$(cat /toolchain)`); run != 2 || cached != 0 {
		t.Errorf("the TARGETARCH step ran %d times, cached %d, want 2 and 0", run, cached)
	}
	for platform, want := range map[string]string{
		"linux/amd64": "toolchain for x86_64, output for amd64, run on x86_64\n",
		"linux/arm64": "toolchain for x86_64, output for arm64, run on aarch64\n",
	} {
		if out, errOut, _ := strata(t, root, "", "run", "--rm", "--platform", platform, "cross:1", "cat", "/result"); out != want {
			t.Errorf("%s: %q %s, want %q", platform, out, errOut, want)
		}
	}
}

// podmanPull: podman (its own store in a temp dir) pulls the arm64 image of
// the pushed index: an arm64 image whose digests are the index's and the
// manifest the index names for linux/arm64.
func podmanPull(t *testing.T, ref, indexDigest string, idx ocispec.Index) {
	podman := testutil.Podman(t)
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.json") // none: the test registry asks for none
	if err := os.WriteFile(auth, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	podman("pull", "-q", "--authfile", auth, "--tls-verify=false", "--platform", "linux/arm64", ref)
	got := podman("image", "inspect", "--format", "{{.Architecture}} {{.Digest}} {{.RepoDigests}}", ref)
	var arm string
	for _, d := range idx.Manifests {
		if d.Platform.Architecture == "arm64" {
			arm = d.Digest.String()
		}
	}
	// podman's Digest is the index's; its repo digests name both.
	if !strings.HasPrefix(got, "arm64 "+indexDigest+" ") || !strings.Contains(got, "@"+arm) {
		t.Errorf("podman pull --platform linux/arm64: %s, want arm64 %s and the index %s", got, arm, indexDigest)
	}
}

// TestBuildMultiPlatformRemoteCache: --cache-to of a two-platform build
// exports both targets' steps in one cache; another store with the same
// bases, building with --cache-from, runs no RUN for either platform and
// makes the same index.
func TestBuildMultiPlatformRemoteCache(t *testing.T) {
	df := map[string]string{"Dockerfile": "FROM busybox:multi\nRUN uname -m > /arch\n"}
	root, dir := multiBusyboxRoot(t, df)
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	cache := "type=registry,ref=" + reg.Host + "/cache:multi,mode=max"
	build := func(root string, flag string) (string, string) {
		out, errOut, code := strata(t, root, "", "build", "--progress", "plain", "--timestamp", "0", flag, cache,
			"--platform", "linux/amd64,linux/arm64", "-t", "app:multi", dir)
		if code != 0 {
			t.Fatalf("build %s: %s", flag, errOut)
		}
		return strings.TrimSpace(out), errOut
	}
	id, _ := build(root, "--cache-to")
	other, _ := multiBusyboxRoot(t, df)
	id2, errOut := build(other, "--cache-from")
	if id2 != id {
		t.Errorf("from the remote cache: index %s, want %s", id2, id)
	}
	if n := strings.Count(errOut, "RUN uname -m > /arch\n#"); n != 2 || strings.Count(errOut, "] RUN uname -m > /arch\n#") != 2 {
		t.Errorf("%d RUN steps listed:\n%s", n, errOut)
	}
	if regexp.MustCompile(`RUN uname -m > /arch\n#\d+ (DONE|cache miss)`).MatchString(errOut) {
		t.Errorf("a RUN ran despite the remote cache:\n%s", errOut)
	}
}
