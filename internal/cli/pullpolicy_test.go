package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestPullPolicy: create pulls an image the store lacks, as docker 20.10's
// run and create do. Recorded from docker (an image pushed to
// localhost:5000/habits/bb:1 and removed locally):
//
//	$ docker run --rm localhost:5000/habits/bb:1 echo hi     # stdout "hi", exit 0, stderr:
//	Unable to find image 'localhost:5000/habits/bb:1' locally
//	1: Pulling from habits/bb
//	Digest: sha256:54fb...
//	Status: Downloaded newer image for localhost:5000/habits/bb:1
//	$ docker run --pull never ...    # exit 125: No such image: localhost:5000/habits/bb:1
//	$ docker create --pull never ... # exit 1, the same message
//	$ docker run --pull always ...   # stderr: the pull's lines without "Unable to find"
//	$ docker run --pull bogus ...    # exit 125:
//	invalid pull option: 'bogus': must be one of "always", "missing" or "never"
//	$ docker run UPPER:1             # exit 125:
//	invalid reference format: repository name (library/UPPER) must be lowercase
//
// Layer progress lines ("...: Pull complete") may come between the pull's
// own lines, as docker's do when the layers are new to it.
func TestPullPolicy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("create unpacks layers: needs root")
	}
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	reg.PutImage(t, "habits/bb", "1", image.HostPlatform().String(),
		testutil.Tar(t, testutil.Entry{Name: "bin/"}, testutil.Entry{Name: "bin/true", Body: "x", Mode: 0o755}))
	ref := reg.Host + "/habits/bb:1"
	root := t.TempDir()
	pulled := `(?s)1: Pulling from habits/bb\n.*Digest: sha256:[0-9a-f]{64}\nStatus: `
	steps := []struct {
		args    []string
		wantErr string // regexp of the whole stderr
		code    int
	}{
		{[]string{"create", "--pull", "never", ref, "true"}, `^Error: No such image: ` + ref + `\n$`, 1},
		{[]string{"run", "--pull", "never", ref, "true"}, `^Error: No such image: ` + ref + `\n$`, 125},
		{[]string{"create", "--pull", "bogus", ref, "true"}, `^Error: invalid pull option: 'bogus': must be one of "always", "missing" or "never"\n$`, 125},
		{[]string{"create", ref, "true"}, `^Unable to find image '` + ref + `' locally\n` + pulled + `Downloaded newer image for ` + ref + `\n$`, 0},
		{[]string{"create", ref, "true"}, `^$`, 0},
		{[]string{"create", "--pull", "always", ref, "true"}, `^` + pulled + `Image is up to date for ` + ref + `\n$`, 0},
		{[]string{"run", "UPPER:1", "true"}, `^Error: invalid reference format.*: repository name \(library/UPPER\) must be lowercase\n$`, 125},
	}
	for _, s := range steps {
		out, errOut, code := strata(t, root, "", s.args...)
		if code != s.code || !regexp.MustCompile(s.wantErr).MatchString(errOut) {
			t.Fatalf("strata %s: exit %d (want %d)\nstderr %q\nwant %s", strings.Join(s.args, " "), code, s.code, errOut, s.wantErr)
		}
		if code == 0 && !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(out) {
			t.Errorf("strata %s: stdout %q, want the container's ID alone", strings.Join(s.args, " "), out)
		}
	}
}
