package builder

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/builder/progress"
	"github.com/strata-dev/strata/internal/image"
)

func TestParsePlatforms(t *testing.T) {
	withHost(t, "linux/amd64")
	for _, c := range []struct{ in, want, err string }{
		{"linux/amd64,linux/arm64", "linux/amd64 linux/arm64", ""},
		{"local, linux/arm64/v8,linux/arm64,amd64", "linux/amd64 linux/arm64", ""},
		{"linux/arm,linux/arm/v6", "linux/arm/v7 linux/arm/v6", ""},
		{"linux/amd64,", "", `invalid platform ""`},
		{"linux/amd64,linux/", "", `invalid platform "linux/"`},
	} {
		ps, err := ParsePlatforms(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%q: %v %v, want %s", c.in, got, err, c.want)
		}
	}
}

// TestBuildPlatformsNoEmulator: a two-platform build whose second target
// has no binfmt_misc handler fails at its first RUN with one line saying
// how to get one, and leaves the store as it was: no name, and not the
// first target's image either.
func TestBuildPlatformsNoEmulator(t *testing.T) {
	withHost(t, "linux/amd64")
	for _, c := range []struct {
		name    string
		binfmt  map[string]string
		wantErr string
	}{
		{"mounted, no s390x handler", map[string]string{"register": "", "status": "enabled\n", "qemu-aarch64": qemuAarch64},
			"Dockerfile:3: RUN ./a.txt: this step needs to run a linux/s390x binary and this machine (linux/amd64) cannot: no emulator for linux/s390x is registered in binfmt_misc (<binfmt_misc>); apt-get install qemu-user-static binfmt-support && update-binfmts --enable (or run tonistiigi/binfmt) registers one"},
		{"binfmt_misc not mounted", map[string]string{},
			"no emulator for linux/s390x is registered in binfmt_misc (<binfmt_misc>); binfmt_misc is not mounted: mount -t binfmt_misc binfmt_misc <binfmt_misc> && apt-get install qemu-user-static binfmt-support"},
	} {
		t.Run(c.name, func(t *testing.T) {
			withBinfmt(t, c.binfmt)
			e := newEnv(t, map[string]string{"a.txt": "a\n"})
			before := storeState(t, e.st)
			fake := &fakeExecutor{}
			tag, _ := image.ParseTagged("out:1")
			var out bytes.Buffer
			p := progress.New(&out, progress.Plain)
			plats, _ := ParsePlatforms("linux/amd64,linux/s390x")
			_, err := BuildPlatforms(context.Background(), e.st, Options{ContextDir: e.ctx, Dockerfile: []byte("FROM scratch\nCOPY a.txt /\nRUN ./a.txt\n"),
				Executor: fake, Tags: []image.Reference{tag}, Progress: p}, plats)
			p.Close()
			if err == nil {
				t.Fatalf("built:\n%s", out.String())
			}
			msg := strings.ReplaceAll(err.Error(), binfmtDir, "<binfmt_misc>")
			if !strings.Contains(msg, c.wantErr) || strings.Contains(msg, "\n") {
				t.Errorf("got %q\nwant one line with %q", msg, c.wantErr)
			}
			if n := len(fake.ran()); n != 1 {
				t.Errorf("%d RUNs ran, want the amd64 one", n)
			}
			if after := storeState(t, e.st); after != before {
				t.Errorf("the failed build changed the store:\n%s\nwas\n%s", after, before)
			}
			if _, err := e.st.Resolve("out:1"); err == nil {
				t.Error("out:1 was tagged")
			}
		})
	}
}

// FuzzParsePlatforms: a --platform list either fails or gives distinct
// normalized platforms, each of which parses back to itself.
func FuzzParsePlatforms(f *testing.F) {
	for _, s := range []string{"linux/amd64,linux/arm64", "local", "linux/arm,linux/arm/v6, arm64", ",", "linux//x", "windows/amd64/v2,linux/riscv64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePlatforms(s)
		if err != nil {
			return
		}
		seen := map[image.Platform]bool{}
		for _, p := range ps {
			if seen[p] {
				t.Fatalf("%q: %s twice", s, p)
			}
			seen[p] = true
			back, err := image.ParsePlatform(p.String())
			if err != nil || back != p {
				t.Fatalf("%q: %s parses back as %s (%v)", s, p, back, err)
			}
		}
	})
}
