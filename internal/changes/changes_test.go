package changes

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/image"
)

func TestApply(t *testing.T) {
	cases := []struct {
		name    string
		changes []string
		check   func(c *image.ContainerConfig) bool
		err     string
	}{
		{"cmd exec", []string{`CMD ["/bin/sh","-c","true"]`}, func(c *image.ContainerConfig) bool {
			return reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-c", "true"})
		}, ""},
		{"cmd shell", []string{`CMD echo hi`}, func(c *image.ContainerConfig) bool {
			return reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-c", "echo hi"})
		}, ""},
		{"shell then cmd", []string{`SHELL ["/bin/bash","-eo"]`, `CMD echo hi`}, func(c *image.ContainerConfig) bool {
			return reflect.DeepEqual(c.Cmd, []string{"/bin/bash", "-eo", "echo hi"})
		}, ""},
		{"entrypoint resets cmd", []string{`CMD ["a"]`, `ENTRYPOINT ["b"]`}, func(c *image.ContainerConfig) bool {
			return c.Cmd == nil && reflect.DeepEqual(c.Entrypoint, []string{"b"})
		}, ""},
		{"env expands and replaces", []string{`ENV PATH=/bin`, `ENV PATH=$PATH:/usr/bin X="a b"`}, func(c *image.ContainerConfig) bool {
			return reflect.DeepEqual(c.Env, []string{"PATH=/bin:/usr/bin", "X=a b"})
		}, ""},
		{"expose and label", []string{`EXPOSE 80 53/udp`, `LABEL a=b "c d"=e`}, func(c *image.ContainerConfig) bool {
			_, tcp := c.ExposedPorts["80/tcp"]
			_, udp := c.ExposedPorts["53/udp"]
			return tcp && udp && c.Labels["a"] == "b" && c.Labels["c d"] == "e"
		}, ""},
		{"workdir relative", []string{`WORKDIR /a`, `WORKDIR b/../c`}, func(c *image.ContainerConfig) bool { return c.WorkingDir == "/a/c" }, ""},
		{"user volume stopsignal", []string{`USER 1000:1000`, `VOLUME ["/data"]`, `STOPSIGNAL SIGINT`}, func(c *image.ContainerConfig) bool {
			_, ok := c.Volumes["/data"]
			return c.User == "1000:1000" && ok && c.StopSignal == "SIGINT"
		}, ""},
		{"healthcheck", []string{`HEALTHCHECK --interval=5s CMD true`}, func(c *image.ContainerConfig) bool {
			return c.Healthcheck != nil && reflect.DeepEqual(c.Healthcheck.Test, []string{"CMD-SHELL", "true"})
		}, ""},
		{"onbuild", []string{`ONBUILD RUN make`}, func(c *image.ContainerConfig) bool { return reflect.DeepEqual(c.OnBuild, []string{"RUN make"}) }, ""},
		{"run refused", []string{`RUN true`}, nil, "RUN is not allowed"},
		{"from refused", []string{`FROM busybox`}, nil, "FROM is not allowed"},
		{"bad syntax", []string{`ENV`}, nil, "invalid change"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg image.ContainerConfig
			err := Apply(&cfg, c.changes)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || !c.check(&cfg) {
				t.Fatalf("Apply(%q) = %+v, %v", c.changes, cfg, err)
			}
		})
	}
}
