package cli

import (
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
