package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestInspectContainer: inspect finds containers and images, as docker's;
// --type and `container inspect` / `image inspect` take one kind. Recorded
// from docker 20.10 (a container hbi of busybox, -p 18099:80 --expose 90):
//
//	$ docker inspect -f '{{.State.Status}} {{.Name}}' hbi  -> running /hbi
//	$ docker inspect nosuch             -> [] and "Error: No such object: nosuch", exit 1
//	$ docker inspect --type image hbi   -> "... No such image: hbi:latest", exit 1
//	$ docker container inspect nosuch   -> "... No such container: nosuch", exit 1
//	$ docker inspect --type bogus hbi   -> unknown type: "bogus": must be one of ..., exit 1
//	HostConfig.NetworkMode "default", HostConfig.PortBindings {"80/tcp":[{"HostIp":"","HostPort":"18099"}]},
//	Config.ExposedPorts {"80/tcp":{},"90/tcp":{}}; docker image inspect -f '{{.Size}}' busybox -> 1985512
func TestInspectContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("create unpacks layers: needs root")
	}
	root := busyboxRoot(t)
	if _, errOut, code := strata(t, root, "", "create", "--name", "c1", "-p", "8080:80", "--expose", "90", "busybox", "sleep", "1"); code != 0 {
		t.Fatal(errOut)
	}
	steps := []struct {
		args             []string
		wantOut, wantErr string
		code             int
	}{
		{[]string{"inspect", "-f", "{{.Name}} {{.State.Status}} {{.Path}} {{json .Args}} {{.HostConfig.NetworkMode}} {{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}}", "c1"},
			`^/c1 created sleep \["1"\] default \{"80/tcp":\[\{"HostIp":"","HostPort":"8080"\}\]\} \{"80/tcp":\{\},"90/tcp":\{\}\}\n$`, `^$`, 0},
		{[]string{"container", "inspect", "-f", "{{.Config.Image}} {{.State.Running}} {{.State.Pid}}", "c1"}, `^busybox false 0\n$`, `^$`, 0},
		{[]string{"inspect", "-f", "{{.Size}}", "busybox"}, `^\d+\n$`, `^$`, 0},
		{[]string{"inspect", "nosuch"}, `^\[\]\n$`, `^Error: No such object: nosuch\n$`, 1},
		{[]string{"inspect", "--type", "image", "c1"}, `^\[\]\n$`, `^Error: No such image: c1\n$`, 1},
		{[]string{"container", "inspect", "busybox"}, `^\[\]\n$`, `^Error: No such container: busybox\n$`, 1},
		{[]string{"image", "inspect", "--type", "container", "busybox"}, `^$`, `unknown flag: --type`, 125},
		{[]string{"inspect", "--type", "bogus", "c1"}, `^$`, `^Error: unknown type: "bogus": must be one of "container", "image"\n$`, 1},
	}
	for _, s := range steps {
		out, errOut, code := strata(t, root, "", s.args...)
		if code != s.code || !regexp.MustCompile(s.wantOut).MatchString(out) || !regexp.MustCompile(s.wantErr).MatchString(errOut) {
			t.Errorf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.code, out, s.wantOut, errOut, s.wantErr)
		}
	}
}
