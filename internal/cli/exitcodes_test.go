package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerExitCodes: the statuses and messages of strata's own errors
// that need no container to run, as docker 20.10 gives them (each case
// names the docker command it was recorded from).
func TestDockerExitCodes(t *testing.T) {
	root := t.TempDir()
	cases := []struct {
		docker  string // the command docker was run with
		args    []string
		wantErr string // regexp of stderr
		code    int
	}{
		{"docker images --bogus", []string{"images", "--bogus"}, `^Error: unknown flag: --bogus\n$`, 125},
		{"docker image inspect --bogus x", []string{"image", "inspect", "--bogus", "x"}, `unknown flag: --bogus`, 125},
		{"docker run --bogus busybox", []string{"run", "--bogus", "busybox"}, `unknown flag: --bogus`, 125},
		{"docker images a b c", []string{"images", "a", "b", "c"}, `arg`, 1},
		{"docker rm nosuch", []string{"rm", "nosuch"}, `^Error: No such container: nosuch\n$`, 1},
		{"docker rm -f nosuch", []string{"rm", "-f", "nosuch"}, `^Error: No such container: nosuch\n$`, 0},
		{"docker bogus", []string{"bogus"}, `unknown command`, 1},
	}
	for _, c := range cases {
		_, errOut, code := strata(t, root, "", c.args...)
		if code != c.code || !regexp.MustCompile(c.wantErr).MatchString(errOut) {
			t.Errorf("strata %s: exit %d, stderr %q; %s gives %d and %s", strings.Join(c.args, " "), code, errOut, c.docker, c.code, c.wantErr)
		}
	}
}

// build --rm and --force-rm are docker's defaults: accepted (docker 20.10
// refuses neither; strata keeps no intermediate container either way).
func TestBuildRmFlagsAccepted(t *testing.T) {
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nLABEL a=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, flag := range []string{"--rm", "--force-rm", "--rm=false"} {
		if _, errOut, code := strata(t, root, "", "build", flag, "-q", "-t", "x:1", ctx); code != 0 {
			t.Errorf("build %s: exit %d %s", flag, code, errOut)
		}
	}
}

// load -q still names what it loaded: docker load -q -i busybox.tar
// printed "Loaded image: localhost:5000/busybox:latest".
func TestLoadQuietNamesImages(t *testing.T) {
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nLABEL a=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, fresh := t.TempDir(), t.TempDir()
	tarPath := filepath.Join(t.TempDir(), "x.tar")
	mustRun(t, root, "build", "-q", "-t", "x:1", ctx)
	mustRun(t, root, "save", "-o", tarPath, "x:1")
	if out := mustRun(t, fresh, "load", "-q", "-i", tarPath); out != "Loaded image: x:1\n" {
		t.Errorf("load -q printed %q", out)
	}
}

// TestBadReferenceAsDocker: a name with capitals, as docker 28's client
// (on the 20.10 engine) says it; docker 20.10's own client said
// "invalid reference format: repository name must be lowercase", without
// the name.
//
//	$ docker run --rm 'Bad:Name:x'   -> docker: invalid reference format: repository name (library/Bad) must be lowercase, rc 125
//	$ docker tag busybox 'Bad:Name:x' -> Error parsing reference: "Bad:Name:x" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase, rc 1
func TestBadReferenceAsDocker(t *testing.T) {
	root := fixture(t)
	for _, c := range []struct {
		args    []string
		wantErr string
		code    int
	}{
		{[]string{"run", "--rm", "Bad:Name:x"}, "Error: invalid reference format: repository name (library/Bad) must be lowercase\n", 125},
		{[]string{"tag", "busybox", "Bad:Name:x"}, "Error: Error parsing reference: \"Bad:Name:x\" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase\n", 1},
	} {
		_, errOut, code := strata(t, root, "", c.args...)
		if errOut != c.wantErr || code != c.code {
			t.Errorf("strata %s: exit %d %q, want %d %q", strings.Join(c.args, " "), code, errOut, c.code, c.wantErr)
		}
	}
}

// TestBuildStdinEmptyContext: `build -` has an empty context, as docker
// sends one. Recorded from docker 20.10 (its classic builder; BuildKit
// says the same in its words, which strata's are):
//
//	$ printf 'FROM busybox\nCOPY x /x\n' | docker build -   -> COPY failed: file not found in build context ..., rc 1
//	$ printf 'FROM busybox\nCOPY . /ctx/\nRUN ls -A /ctx\n' | docker build -q -   -> an image, /ctx empty
func TestBuildStdinEmptyContext(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		dockerfile string
		wantErr    string // regexp
		code       int
	}{
		{"FROM scratch\nCOPY x /x\n", `"/x": not found`, 1},
		{"FROM scratch\nCOPY . /ctx/\n", `^$`, 0},
		{"FROM scratch\nCOPY *.txt /t/\n", `^$`, 0}, // BuildKit allows an empty wildcard
	} {
		_, errOut, code := strata(t, root, c.dockerfile, "build", "-q", "-")
		if code != c.code || !regexp.MustCompile(c.wantErr).MatchString(errOut) {
			t.Errorf("%q | strata build -: exit %d, stderr %q; want %d, %s", c.dockerfile, code, errOut, c.code, c.wantErr)
		}
	}
}
