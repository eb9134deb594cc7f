package cli

import (
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
