package cli

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestImageFilters: images --filter as docker 20.10's. Recorded from
// docker:
//
//	$ docker images --filter bogus=1          -> Invalid filter 'bogus', exit 1
//	$ docker images --filter dangling=maybe   -> Invalid filter 'dangling=[maybe]', exit 1
//	$ docker images --filter nokey            -> bad format of filter (expected name=value), exit 125
//	$ docker images --filter reference='*/busybox:latest' -> localhost:5000/busybox:latest only
//	  (a pattern without a slash does not match a name with one)
func TestImageFilters(t *testing.T) {
	root := fixture(t)
	format := "{{.Repository}}:{{.Tag}}"
	cases := []struct {
		filters []string
		want    string // stdout, one name a line, sorted
		wantErr string
		code    int
	}{
		{[]string{"dangling=true"}, "<none>:<none>", "", 0},
		{[]string{"dangling=false"}, "busybox:latest example.com:5000/team/app:v1 mybox:1", "", 0},
		{[]string{"reference=*box"}, "busybox:latest mybox:1", "", 0},
		{[]string{"reference=*box:1"}, "mybox:1", "", 0},
		{[]string{"reference=example.com:5000/*/*"}, "example.com:5000/team/app:v1", "", 0},
		{[]string{"reference=busybox", "reference=mybox"}, "busybox:latest mybox:1", "", 0},
		{[]string{"label=nosuch"}, "", "", 0},
		{[]string{"dangling=false", "reference=my*"}, "mybox:1", "", 0},
		{[]string{"bogus=1"}, "", "Error: Invalid filter 'bogus'\n", 1},
		{[]string{"dangling=maybe"}, "", "Error: Invalid filter 'dangling=[maybe]'\n", 1},
		{[]string{"nokey"}, "", "Error: invalid argument \"nokey\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n", 125},
	}
	for _, c := range cases {
		args := []string{"images", "--format", format}
		for _, f := range c.filters {
			args = append(args, "--filter", f)
		}
		out, errOut, code := strata(t, root, "", args...)
		lines := strings.Fields(out)
		sort.Strings(lines)
		if got := strings.Join(lines, " "); got != c.want || errOut != c.wantErr || code != c.code {
			t.Errorf("images %v: %q %q exit %d; want %q %q %d", c.filters, got, errOut, code, c.want, c.wantErr, c.code)
		}
	}
}

// TestContainerFilters: ps --filter, -n, -l, -s and container prune
// --filter label, as docker's (`docker ps -a --filter status=bogus`:
// "Invalid filter 'status=bogus'", exit 1).
func TestContainerFilters(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("create unpacks layers: needs root")
	}
	root := busyboxRoot(t)
	for _, args := range [][]string{
		{"create", "--name", "c1", "--label", "team=a", "busybox", "true"},
		{"create", "--name", "c2", "-l", "team=b", "busybox", "true"},
	} {
		if _, errOut, code := strata(t, root, "", args...); code != 0 {
			t.Fatal(errOut)
		}
	}
	names := "{{.Names}}"
	steps := []struct {
		args             []string
		wantOut, wantErr string
		code             int
	}{
		{[]string{"ps", "--format", names}, `^$`, `^$`, 0},
		{[]string{"ps", "--filter", "status=created", "--format", names}, `^c2\nc1\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "label=team=a", "--format", names}, `^c1\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "label=team", "--format", names}, `^c2\nc1\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "name=^c1$", "--format", names}, `^c1\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "ancestor=busybox", "-q"}, `^[0-9a-f]{12}\n[0-9a-f]{12}\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "ancestor=nosuch", "-q"}, `^$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "exited=0", "-q"}, `^$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "before=c2", "--format", names}, `^c1\n$`, `^$`, 0},
		{[]string{"ps", "-n", "1", "--format", names}, `^c2\n$`, `^$`, 0},
		{[]string{"ps", "-l", "--format", names}, `^c2\n$`, `^$`, 0},
		{[]string{"ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}"}, `^c2 0B \(virtual \d.*B\)\nc1 0B \(virtual .*\)\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--filter", "status=bogus"}, `^$`, `^Error: Invalid filter 'status=bogus'\n$`, 1},
		{[]string{"container", "prune", "-f", "--filter", "label!=team=b"}, `^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: 0B\n$`, `^$`, 0},
		{[]string{"ps", "-a", "--format", names}, `^c2\n$`, `^$`, 0},
	}
	for _, s := range steps {
		out, errOut, code := strata(t, root, "", s.args...)
		if code != s.code || !regexp.MustCompile(s.wantOut).MatchString(out) || !regexp.MustCompile(s.wantErr).MatchString(errOut) {
			t.Errorf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.code, out, s.wantOut, errOut, s.wantErr)
		}
	}
}
