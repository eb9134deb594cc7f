package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// jobDockerfile is what a CI job builds: RUN steps that read
// /proc/self/status and write, delete and chown files, as a user too.
const jobDockerfile = `FROM %BASE%
COPY Dockerfile /df
RUN grep -E '^(Cap|Uid|Gid|NoNewPrivs|Seccomp)' /proc/self/status > /status && echo hi > /hello && mkdir -p /a/b && touch /a/b/c && ls /dev > /devs
RUN rm /hello && echo 'u:x:1000:1000::/home/u:/bin/sh' >> /etc/passwd && mkdir -p /home/u && chown 1000 /home/u && echo ok > /ok
USER u
RUN id > /home/u/id; echo RAN-$((40+2))
`

// TestBuildInUnprivilegedContainer is a CI job: the strata CI image
// (ci/Dockerfile, built here by strata from a prebuilt binary on busybox,
// offline) run as docker runs a job, with docker's default seccomp profile
// and capabilities (strata run's defaults), --network host and the context
// mounted. Its build chooses chroot isolation by itself, pushes to a
// registry, and gives the very image (same ID, so the same layers) the
// same build gives on the host with namespaces; a second job with the
// first's registry cache runs no RUN; where chroot isolation cannot run
// either, the build fails in one line naming what is missing and pushes
// nothing.
func TestBuildInUnprivilegedContainer(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	root := t.TempDir()
	base := reg.Host + "/base:1"
	must(t, root, "import", busyboxTar(t), base)
	must(t, root, "push", "-q", base)

	ciCtx := t.TempDir()
	copyFile(t, bin, filepath.Join(ciCtx, "strata"))
	must(t, root, "build", "-q", "-f", "../../ci/Dockerfile", "--build-arg", "BINARY=prebuilt", "--build-arg", "BASE="+base,
		"--build-arg", "PACKAGES=", "-t", "strata-ci", ciCtx)

	jobDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(jobDir, "Dockerfile"), []byte(strings.ReplaceAll(jobDockerfile, "%BASE%", base)), 0o644); err != nil {
		t.Fatal(err)
	}
	const ts = "1700000000"
	job := func(runFlags []string, buildArgs ...string) (string, int) {
		args := append([]string{"run", "--rm", "--network", "host", "--mount", "type=bind,src=" + jobDir + ",dst=/workspace"}, runFlags...)
		args = append(append(append(args, "strata-ci", "build", "--progress", "plain", "--timestamp", ts), buildArgs...), ".")
		out, errOut, code := strata(t, root, args...)
		return out + errOut, code
	}
	app := reg.Host + "/app"
	if info := must(t, root, "run", "--rm", "strata-ci", "info"); !strings.Contains(info, "Build Isolation: chroot") {
		t.Errorf("strata info in the job container:\n%s", info)
	}

	out, code := job(nil, "--push", "-t", app+":1", "--cache-to", "type=registry,ref="+app+":cache")
	if code != 0 {
		t.Fatalf("first job: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"building with --isolation chroot", "RAN-42"} {
		if !strings.Contains(out, want) {
			t.Errorf("first job's output lacks %q:\n%s", want, out)
		}
	}
	hostID := strings.TrimSpace(must(t, root, "build", "-q", "--timestamp", ts, "-t", "hostapp", jobDir))
	must(t, root, "pull", "-q", app+":1")
	layers := func(ref string) string { return must(t, root, "inspect", "-f", "{{json .RootFS.Layers}}", ref) }
	if id := strings.TrimSpace(must(t, root, "inspect", "-f", "{{.Id}}", app+":1")); id != hostID {
		t.Errorf("pushed image %s, host build %s\npushed layers: %shost layers:   %s", id, hostID, layers(app+":1"), layers("hostapp"))
	}

	out, code = job(nil, "--push", "-t", app+":2", "--cache-from", "type=registry,ref="+app+":cache")
	if code != 0 {
		t.Fatalf("second job: exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "RAN-42") || strings.Count(out, "CACHED") < 4 {
		t.Errorf("second job ran a step the registry cache has:\n%s", out)
	}

	// The same job under docker itself, with docker's own default seccomp
	// profile and capabilities, where a docker daemon runs (as in CI).
	if exec.Command("docker", "info").Run() == nil {
		tag := "strata-test/ci:chroot"
		archive := filepath.Join(t.TempDir(), "ci.tar")
		must(t, root, "tag", "strata-ci", tag)
		must(t, root, "save", "-o", archive, tag)
		if out, err := exec.Command("docker", "load", "-i", archive).CombinedOutput(); err != nil {
			t.Fatalf("docker load: %v %s", err, out)
		}
		defer exec.Command("docker", "rmi", tag).Run()
		out, err := exec.Command("docker", "run", "--rm", "--network", "host", "-v", jobDir+":/workspace", tag,
			"build", "--progress", "plain", "--timestamp", ts, "--push", "-t", app+":docker", ".").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "building with --isolation chroot") || !strings.Contains(string(out), "RAN-42") {
			t.Errorf("job under docker run: %v\n%s", err, out)
		}
		must(t, root, "pull", "-q", app+":docker")
		// The root filesystem is the host build's but for /devs: the
		// RUN lists the job container's /dev, which docker's runtime
		// made (runc adds /dev/core where crun does not).
		diff := must(t, root, "image", "diff", "hostapp", app+":docker")
		if !regexp.MustCompile(`(?m)^C\s+/devs\s`).MatchString(diff) || !strings.Contains(diff, "0 added (0B), 0 deleted (0B), 1 changed") || !strings.Contains(diff, "config: the same") {
			t.Errorf("the image pushed from docker run differs from the host build's by more than /devs:\n%s", diff)
		}
	} else {
		t.Log("no docker daemon: the job ran under strata run's defaults only")
	}

	out, code = job([]string{"--cap-drop", "CHOWN"}, "--push", "-t", app+":3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code == 0 || len(lines) != 1 || !strings.Contains(out, "namespaces are refused") || !strings.Contains(out, "needs CAP_CHOWN") {
		t.Errorf("job without CAP_CHOWN: exit %d, want one line naming what is missing:\n%s", code, out)
	}
	if _, errOut, code := strata(t, root, "pull", "-q", app+":3"); code == 0 {
		t.Errorf("the failed job pushed %s:3", app)
	} else if !strings.Contains(errOut, "not found") && !strings.Contains(errOut, "unknown") {
		t.Logf("pull of the failed job's tag: %s", errOut)
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
