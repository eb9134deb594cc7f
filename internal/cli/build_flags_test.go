package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testutil"
)

// buildContext writes files (name -> content) into a new directory.
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuildCheck: --check reports BuildKit's lint rules as docker buildx
// does and exits 1 on a warning, building nothing; a normal build lists
// the same warnings at its end and succeeds.
func TestBuildCheck(t *testing.T) {
	root := t.TempDir()
	warned := buildContext(t, map[string]string{
		"Dockerfile": "FROM scratch as base\nCOPY a /a\nCMD echo hi\n",
		"a":          "a\n",
	})
	clean := buildContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\nCMD [\"/a\"]\n", "a": "a\n"})

	out, errOut, code := strata(t, root, "", "build", "--check", "-t", "never:1", warned)
	if code != 1 {
		t.Errorf("--check with warnings: exit %d, want 1\n%s", code, errOut)
	}
	testutil.Golden(t, "testdata/golden/build-check.golden", out)
	if _, _, code := strata(t, root, "", "image", "inspect", "never:1"); code == 0 {
		t.Error("--check stored an image")
	}

	out, _, code = strata(t, root, "", "build", "--check", clean)
	if code != 0 || out != "Check complete, no warnings found.\n" {
		t.Errorf("--check of a clean Dockerfile: exit %d, %q", code, out)
	}

	_, errOut, code = strata(t, root, "", "build", "--progress", "plain", "-t", "warned:1", warned)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, errOut)
	}
	want := " 2 warnings found:\n" +
		" - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n" +
		" - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 3)\n"
	if !strings.HasSuffix(errOut, want) {
		t.Errorf("build's warnings: stderr ends\n%s\nwant\n%s", errOut[max(0, len(errOut)-400):], want)
	}
	_, errOut, _ = strata(t, root, "", "build", "--progress", "plain", clean)
	if strings.Contains(errOut, "warning") {
		t.Errorf("a clean Dockerfile's build printed warnings:\n%s", errOut)
	}
}

// TestBuildOutput: each --output type gets the image and the store does
// not; the archives load as the very image a stored build makes, and
// --metadata-file names its config and manifest digests as buildx does.
func TestBuildOutput(t *testing.T) {
	root := t.TempDir()
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a /etc/a\nCOPY b /b\nCMD [\"/b\"]\n",
		"a":          "a\n",
		"b":          "b\n",
	})
	meta := filepath.Join(t.TempDir(), "meta.json")
	id := strings.TrimSpace(mustRun(t, root, "build", "-q", "--timestamp", "0", "-t", "stored:1", "--metadata-file", meta, ctx))
	im, err := openStore(t, root).Resolve("stored:1")
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if b, err := os.ReadFile(meta); err != nil || json.Unmarshal(b, &md) != nil {
		t.Fatalf("metadata file: %v %s", err, b)
	}
	if md["containerimage.config.digest"] != id || md["containerimage.digest"] != im.Manifest.Digest.String() ||
		md["image.name"] != "docker.io/library/stored:1" {
		t.Errorf("metadata %v, want config %s manifest %s", md, id, im.Manifest.Digest)
	}
	if d, _ := md["containerimage.descriptor"].(map[string]any); d["digest"] != im.Manifest.Digest.String() || d["size"] != float64(im.Manifest.Size) {
		t.Errorf("metadata descriptor %v", md["containerimage.descriptor"])
	}

	// A second store, so that "nothing stored" is seen.
	out := t.TempDir()
	other := t.TempDir()
	build := func(args ...string) string {
		t.Helper()
		return mustRun(t, other, append(append([]string{"build", "-q", "--timestamp", "0"}, args...), ctx)...)
	}
	build("-o", filepath.Join(out, "short"))
	build("--output", "type=local,dest="+filepath.Join(out, "local"))
	for _, d := range []string{"short", "local"} {
		if b, err := os.ReadFile(filepath.Join(out, d, "etc", "a")); err != nil || string(b) != "a\n" {
			t.Errorf("%s: etc/a %q %v", d, b, err)
		}
	}
	tarOut := build("-o", "-")
	var names []string
	for _, e := range entries(t, []byte(tarOut)) {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "etc/ etc/a b" {
		t.Errorf("-o - wrote %v", names)
	}
	build("-o", "type=tar,dest="+filepath.Join(out, "fs.tar"))
	if b, _ := os.ReadFile(filepath.Join(out, "fs.tar")); !bytes.Equal(b, []byte(tarOut)) {
		t.Error("type=tar,dest=FILE differs from -o -")
	}
	build("-t", "app:2", "--metadata-file", meta, "-o", "type=docker,dest="+filepath.Join(out, "docker.tar"))
	build("-t", "app:2", "-o", "type=oci,dest="+filepath.Join(out, "oci.tar"))
	if got := mustRun(t, other, "images", "-q"); got != "" {
		t.Errorf("--output stored images:\n%s", got)
	}
	if b, _ := os.ReadFile(meta); !strings.Contains(string(b), id) || !strings.Contains(string(b), `"image.name": "docker.io/library/app:2"`) {
		t.Errorf("metadata of a docker output: %s", b)
	}
	// The docker archive loads as the stored build's image, named by -t.
	loaded := t.TempDir()
	mustRun(t, loaded, "load", "-q", "-i", filepath.Join(out, "docker.tar"))
	if got, err := openStore(t, loaded).Resolve("app:2"); err != nil || got.ID.String() != id {
		t.Errorf("loaded docker output: %v %v, want %s", got, err, id)
	}
	loadedOCI := t.TempDir()
	mustRun(t, loadedOCI, "load", "-q", "-i", filepath.Join(out, "oci.tar"))
	if got, err := openStore(t, loadedOCI).Resolve("app:2"); err != nil || got.ID.String() != id {
		t.Errorf("loaded oci output: %v %v, want %s", got, err, id)
	}

	// Bad input: one line, nothing built.
	_, errOut, code := strata(t, other, "", "build", "-o", "type=registry,dest=x", ctx)
	if code != 1 || !strings.Contains(errOut, `type "registry" is not supported`) {
		t.Errorf("type=registry: exit %d %s", code, errOut)
	}
	for _, dest := range []string{filepath.Join(out, "missing", "x.tar"), out} {
		_, errOut, code := strata(t, other, "", "build", "-o", "type=docker,dest="+dest, ctx)
		if code != 1 || !strings.HasPrefix(errOut, "Error: invalid output path: ") || strings.Contains(errOut, "#") {
			t.Errorf("dest=%s: exit %d, %s (want the path refused before the build)", dest, code, errOut)
		}
	}
}

// TestBuildSSH: --ssh forwards a real ssh-agent to RUN --mount=type=ssh
// where BuildKit puts it (/run/buildkit/ssh_agent.0, or the target), with
// SSH_AUTH_SOCK set; the agent answers with the key added to it; nothing of
// the mount reaches the image. As in BuildKit, an ssh mount is optional
// unless required=true: a required agent that was not given fails the build
// on the RUN's line; an optional one is left out, SSH_AUTH_SOCK still
// naming where it would be (as docker does; conformance case run-mount-ssh).
func TestBuildSSH(t *testing.T) {
	needRun(t)
	for _, tool := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing (Debian package openssh-client)", tool)
		}
	}
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	key := filepath.Join(tmp, "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}

	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM localhost:5000/busybox:latest\n" +
			"COPY agentcheck /agentcheck\n" +
			"RUN --mount=type=ssh /agentcheck > /out-default\n" +
			"RUN --mount=type=ssh,id=other,target=/tmp/agent.sock /agentcheck > /out-other\n",
		// BuildKit's ssh mounts are optional unless required=true.
		"optional.Dockerfile": "FROM localhost:5000/busybox:latest\n" +
			"RUN --mount=type=ssh test ! -e \"$SSH_AUTH_SOCK\" && test \"$SSH_AUTH_SOCK\" = /run/buildkit/ssh_agent.0 && touch /no-agent\n",
		"required.Dockerfile": "FROM localhost:5000/busybox:latest\n" +
			"RUN --mount=type=ssh,required=true true\n",
	})
	gobuild := exec.Command("go", "build", "-o", filepath.Join(ctx, "agentcheck"), "./testdata/agentcheck")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("building the agent check: %v %s", err, out)
	}
	root := t.TempDir()
	mustRun(t, root, "load", "-q", "-i", filepath.Join("..", "builder", "testdata", "conformance", "busybox.tar.gz"))

	t.Setenv("SSH_AUTH_SOCK", sock)
	fs := mustRun(t, root, "build", "-q", "--ssh", "default", "--ssh", "other="+sock, "-o", "-", ctx)
	files := tarFiles(t, []byte(fs))
	want := map[string]string{
		"out-default": "agent at /run/buildkit/ssh_agent.0 holds 1 identities\n",
		"out-other":   "agent at /tmp/agent.sock holds 1 identities\n",
	}
	for name, body := range want {
		if files[name] != body {
			t.Errorf("%s = %q, want %q", name, files[name], body)
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "run/buildkit") || name == "tmp/agent.sock" {
			t.Errorf("the ssh mount %s reached the image", name)
		}
	}

	t.Setenv("SSH_AUTH_SOCK", "")
	_, errOut, code := strata(t, root, "", "build", "-f", filepath.Join(ctx, "required.Dockerfile"), ctx)
	if code != 1 || !strings.Contains(errOut, `required.Dockerfile:2: RUN --mount=type=ssh,required=true true: no SSH key "default" forwarded from the client (give --ssh default)`) {
		t.Errorf("a required agent without --ssh: exit %d\n%s", code, errOut)
	}
	_, errOut, code = strata(t, root, "", "build", "--ssh", "default", ctx)
	if code != 1 || !strings.Contains(errOut, "SSH_AUTH_SOCK is not set") {
		t.Errorf("--ssh default without an agent: exit %d\n%s", code, errOut)
	}
	fs = mustRun(t, root, "build", "-q", "-f", filepath.Join(ctx, "optional.Dockerfile"), "-o", "-", ctx)
	if _, ok := tarFiles(t, []byte(fs))["no-agent"]; !ok {
		t.Error("an optional ssh mount without --ssh: the RUN saw an agent or did not run")
	}
}

// needRun skips a test whose build has RUN steps where they cannot run.
func needRun(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("RUN needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := exec.LookPath("crun"); err != nil {
			t.Skip("RUN needs runc or crun")
		}
	}
}

// TestBuildContext: --build-context NAME=DIR replaces `FROM NAME` (the
// directory is the stage's root filesystem) and `COPY --from=NAME`;
// NAME=docker-image://REF replaces the image NAME, as in BuildKit.
func TestBuildContext(t *testing.T) {
	root := t.TempDir()
	imgCtx := buildContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /etc/a\nENV FROM_IMG=1\n", "a": "from the image\n"})
	mustRun(t, root, "build", "-q", "-t", "stored:1", imgCtx)
	base := buildContext(t, map[string]string{"b.txt": "base\n"})
	extra := buildContext(t, map[string]string{"e.txt": "extra\n"})
	ctx := buildContext(t, map[string]string{
		"Dockerfile": "FROM base\nCOPY --from=extra /e.txt /from-extra\nCOPY --from=img /etc/a /from-img\nFROM img AS second\nCOPY --from=0 /b.txt /b.txt\n",
	})
	build := func(args ...string) (string, string, int) {
		return strata(t, root, "", append(append([]string{"build", "-q", "--timestamp", "0",
			"--build-context", "base=" + base, "--build-context", "Extra=" + extra,
			"--build-context", "img=docker-image://stored:1"}, args...), ctx)...)
	}
	out, errOut, code := build("--target", "0", "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	files := tarFiles(t, []byte(out))
	for name, body := range map[string]string{"b.txt": "base\n", "from-extra": "extra\n", "from-img": "from the image\n"} {
		if files[name] != body {
			t.Errorf("%s = %q, want %q (files %v)", name, files[name], body, files)
		}
	}
	// FROM img is the image stored:1 (its ENV, its layer below the COPY);
	// the stage from a directory has BuildKit's config for a stage
	// without image and the directory as its one layer.
	id1, errOut, code := build("-t", "second:1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	const format = "{{json .Config.Env}} {{.Config.WorkingDir}} {{len .RootFS.Layers}}"
	if cfg := mustRun(t, root, "image", "inspect", "-f", format, "second:1"); strings.TrimSpace(cfg) != `["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","FROM_IMG=1"] / 2` {
		t.Errorf("second stage config: %s", cfg)
	}
	build("--target", "0", "-t", "first:1")
	if cfg := mustRun(t, root, "image", "inspect", "-f", format, "first:1"); strings.TrimSpace(cfg) != `["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] / 3` {
		t.Errorf("first stage config: %s", cfg)
	}
	first, _, _ := build("--target", "0")
	again, _, _ := build("--target", "0")
	if first != again {
		t.Errorf("rebuild gave %s then %s", first, again)
	}
	// The directory's content is an input: a change is a new image.
	os.WriteFile(filepath.Join(base, "b.txt"), []byte("changed\n"), 0o644)
	if changed, _, _ := build("--target", "0"); changed == first {
		t.Error("changing the FROM context's files did not change the image")
	}
	if id2, _, _ := build("-t", "second:1"); id2 == id1 {
		t.Error("changing the context of a stage copied from did not change the image")
	}

	// --check reads the config of the image a context names: stored:1
	// sets FROM_IMG (without the context, "img" is unknown: UndefinedVar).
	chk := buildContext(t, map[string]string{"Dockerfile": "FROM img\nENV A=$FROM_IMG\n"})
	if out, _, code := strata(t, root, "", "build", "--check", "--build-context", "img=docker-image://stored:1", chk); code != 0 {
		t.Errorf("--check with a context image that sets FROM_IMG: exit %d\n%s", code, out)
	}
	if _, _, code := strata(t, root, "", "build", "--check", chk); code != 1 {
		t.Errorf("--check without the context: exit %d, want 1 (UndefinedVar)", code)
	}

	for _, bad := range []struct{ arg, want string }{
		{"x=https://example.com/ctx.git", "https sources are not supported"},
		{"x=" + filepath.Join(base, "missing"), "no such file"},
		{"x=" + filepath.Join(base, "b.txt"), "is not a directory"},
		{"noequals", "want NAME=DIR"},
	} {
		_, errOut, code := strata(t, root, "", "build", "--build-context", bad.arg, ctx)
		if code != 1 || !strings.Contains(errOut, bad.want) {
			t.Errorf("--build-context %s: exit %d %s", bad.arg, code, errOut)
		}
	}
}

// tarFiles maps the entries of a tar (entries) to their contents.
func tarFiles(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range entries(t, b) {
		out[e.Name] = e.Body
	}
	return out
}
