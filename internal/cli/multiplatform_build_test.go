package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/container/containertest"
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
