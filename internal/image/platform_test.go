package image

import (
	"runtime"
	"testing"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestParsePlatform(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" = an error
	}{
		{"linux/amd64", "linux/amd64"},
		{"linux/x86_64", "linux/amd64"},
		{"linux/amd64/v1", "linux/amd64"},
		{"linux/amd64/v3", "linux/amd64/v3"},
		{"linux/arm64", "linux/arm64"},
		{"linux/arm64/v8", "linux/arm64"},
		{"linux/aarch64", "linux/arm64"},
		{"Linux/ARM64", "linux/arm64"},
		{"linux/arm", "linux/arm/v7"},
		{"linux/arm/6", "linux/arm/v6"},
		{"linux/armhf", "linux/arm/v7"},
		{"linux/i686", "linux/386"},
		{"linux/s390x", "linux/s390x"},
		{"arm64", "linux/arm64"},
		{"linux", "linux/" + runtime.GOARCH},
		{"", ""},
		{"linux/", ""},
		{"/amd64", ""},
		{"a/b/c/d", ""},
	} {
		got, err := ParsePlatform(c.in)
		if c.want == "" {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("ParsePlatform(%q) = %v, %v; want an invalid-argument error", c.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("ParsePlatform(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestPlatformRuns(t *testing.T) {
	p := func(os, arch, variant string) Platform { return Platform{os, arch, variant} }
	for _, c := range []struct {
		want, have Platform
		runs       bool
	}{
		{p("linux", "amd64", ""), p("linux", "amd64", ""), true},
		{p("linux", "arm64", ""), p("linux", "amd64", ""), false},
		{p("linux", "amd64", ""), p("linux", "arm64", ""), false},
		{p("linux", "arm64", ""), p("linux", "arm64", "v8"), true},
		{p("linux", "arm64", "v8"), p("linux", "aarch64", ""), true},
		{p("linux", "arm", "v7"), p("linux", "arm", ""), true}, // plain arm is v7
		{p("linux", "arm", "v7"), p("linux", "arm", "v6"), true},
		{p("linux", "arm", "v6"), p("linux", "arm", "v7"), false},
		{p("linux", "amd64", "v3"), p("linux", "amd64", ""), true},
		{p("linux", "amd64", "v2"), p("linux", "amd64", "v3"), false},
		{p("linux", "amd64", ""), p("linux", "amd64", "v3"), true}, // no variant asked: any
		{p("windows", "amd64", ""), p("linux", "amd64", ""), false},
		{p("linux", "amd64", ""), p("", "", ""), true}, // states nothing: taken as it is
	} {
		if got := c.want.Runs(c.have); got != c.runs {
			t.Errorf("%v.Runs(%v) = %v, want %v", c.want, c.have, got, c.runs)
		}
	}
}
