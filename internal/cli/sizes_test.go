package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestSizesAsDocker: images, history and inspect show what the layers
// unpack to, as docker does. The fixture was saved (strata save) and
// loaded into docker 20.10, which printed:
//
//	$ docker images example.com:5000/team/app  -> SIZE 1.75MB   (busybox: 1.5MB)
//	$ docker history example.com:5000/team/app:v1
//	  SIZE 250kB, 30B, 1.5MB
//	$ docker history --no-trunc -H=false example.com:5000/team/app:v1
//	  SIZE 250000, 30, 1500000
//	$ docker inspect -f '{{.Size}}' example.com:5000/team/app:v1 -> 1750030
//
// (the tar sizes would be 1.76MB, 2.56kB, 1504768...).
func TestSizesAsDocker(t *testing.T) {
	root := fixture(t)
	cases := []struct {
		args []string
		col  string // the column compared
		want []string
	}{
		{[]string{"images", "example.com:5000/team/app"}, "SIZE", []string{"1.75MB"}},
		{[]string{"images", "busybox"}, "SIZE", []string{"1.5MB"}},
		{[]string{"history", "example.com:5000/team/app:v1"}, "SIZE", []string{"250kB", "30B", "1.5MB"}},
		{[]string{"history", "--no-trunc", "-H=false", "example.com:5000/team/app:v1"}, "SIZE", []string{"250000", "30", "1500000"}},
		{[]string{"inspect", "-f", "{{.Size}}", "example.com:5000/team/app:v1"}, "", []string{"1750030"}},
	}
	for _, c := range cases {
		out := mustRun(t, root, c.args...)
		got := strings.Fields(out)
		if c.col != "" {
			got = column(out, c.col)
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("strata %s: %s %q, docker %q", strings.Join(c.args, " "), c.col, got, c.want)
		}
	}
}

// column is the values of a table's column, read at the header's offset.
func column(table, name string) []string {
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	at := strings.Index(lines[0], name)
	var out []string
	for _, l := range lines[1:] {
		if at < 0 || at >= len(l) {
			out = append(out, "")
			continue
		}
		f := strings.Fields(l[at:])
		if len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// TestPsImageAfterRetag: ps names the image as the container was created
// from it only while that name still gives the container's image.
// Recorded from docker 20.10 (hf-ps:1 built, a container created from it,
// then `docker tag busybox hf-ps:1`):
//
//	$ docker ps -a --format '{{.Image}}'            -> fe5e7735aa50
//	$ docker ps -a --no-trunc --format '{{.Image}}' -> sha256:fe5e7735aa50935b...
//
// and still the ID after another name was given to the old image.
func TestPsImageAfterRetag(t *testing.T) {
	root := fixture(t)
	mustRun(t, root, "create", "--pull", "never", "--name", "c1", "mybox:1", "true")
	appID := strings.TrimSpace(mustRun(t, root, "inspect", "-f", "{{.Id}}", "mybox:1"))
	steps := []struct {
		retag []string // tag SOURCE TARGET first
		want  string
		noTr  string
	}{
		{nil, "mybox:1", "mybox:1"},
		{[]string{"example.com:5000/team/app:v1", "mybox:1"}, appID[7:19], appID},
		{[]string{"busybox", "other:1"}, appID[7:19], appID},
	}
	for _, s := range steps {
		if s.retag != nil {
			mustRun(t, root, append([]string{"tag"}, s.retag...)...)
		}
		if got := strings.TrimSpace(mustRun(t, root, "ps", "-a", "--format", "{{.Image}}")); got != s.want {
			t.Errorf("after tag %v: ps IMAGE %q, want %q", s.retag, got, s.want)
		}
		if got := strings.TrimSpace(mustRun(t, root, "ps", "-a", "--no-trunc", "--format", "{{.Image}}")); got != s.noTr {
			t.Errorf("after tag %v: ps --no-trunc IMAGE %q, want %q", s.retag, got, s.noTr)
		}
	}
}

// TestSystemDfContainers: system df counts containers as docker 20.10
// does, and -v lists them. Recorded (a running container that wrote 4
// bytes, five stopped or created ones with nothing written):
//
//	$ docker system df
//	Containers      6         2         4B        0B (0%)
//	$ docker system df -v
//	Containers space usage:
//
//	CONTAINER ID   IMAGE                           COMMAND                  LOCAL VOLUMES   SIZE      CREATED              STATUS        NAMES
//	d9e7e533a7be   localhost:5000/busybox:latest   "sh -c 'echo abc > /…"   0               4B        1 second ago         Up 1 second   hf-df
//	26f5a2d48e87   localhost:5000/busybox:latest   "true"                   0               0B        3 minutes ago        Exited (0) 3 minutes ago   hc-d
func TestSystemDfContainers(t *testing.T) {
	root := fixture(t)
	mustRun(t, root, "create", "--pull", "never", "--name", "c1", "mybox:1", "true")
	out := mustRun(t, root, "system", "df", "-v")
	for _, want := range []string{
		`(?m)^Containers\s+1\s+0\s+0B\s+0B$`,
		`(?m)^Containers space usage:\n\nCONTAINER ID\s+IMAGE\s+COMMAND\s+LOCAL VOLUMES\s+SIZE\s+CREATED\s+STATUS\s+NAMES\n[0-9a-f]{12}\s+mybox:1\s+"true"\s+0\s+0B\s+.* ago\s+Created\s+c1\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("system df -v does not match %s:\n%s", want, out)
		}
	}
}
