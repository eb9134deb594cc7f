package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestBuildPlatform: `build --platform linux/arm64` on a base the store
// holds for this machine only pulls the arm64 manifest of the registry's
// index, leaves the name alone, and makes an arm64 image (images, inspect);
// on a base the registry has for amd64 only it fails with one line and
// changes nothing.
func TestBuildPlatform(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	layer := func(body string) []byte {
		return testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/platform", Body: body + "\n"})
	}
	amd := reg.PutImage(t, "multi", "", "linux/amd64", layer("linux/amd64"))
	arm := reg.PutImage(t, "multi", "", "linux/arm64/v8", layer("linux/arm64"))
	reg.PutIndex(t, "multi", "1", amd, arm)
	reg.PutImage(t, "amdonly", "1", "linux/amd64", layer("linux/amd64"))

	root := t.TempDir()
	st := openStore(t, root)
	storetest.PlatformImage(t, st, reg.Host+"/multi:1", "linux/amd64", layer("local"))
	storetest.PlatformImage(t, st, reg.Host+"/amdonly:1", "linux/amd64", layer("local"))

	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "a\n")
	write("Dockerfile", "FROM "+reg.Host+"/multi:1\nCOPY a.txt /a.txt\n")
	write("amdonly.Dockerfile", "FROM "+reg.Host+"/amdonly:1\nCOPY a.txt /a.txt\n")

	hide := strings.NewReplacer(reg.Host, "<registry>", dir, "<context>")
	for _, s := range []struct {
		name string
		args []string
	}{
		{"build-platform-arm64", []string{"build", "--platform", "linux/arm64", "--timestamp", "0", "-t", "app:arm64", dir}},
		{"build-platform-images", []string{"images"}},
		{"build-platform-inspect", []string{"inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{json .RepoTags}}", "app:arm64", reg.Host + "/multi:1"}},
		{"build-platform-no-match", []string{"build", "--platform", "linux/arm64", "-t", "never:1", "-f", filepath.Join(dir, "amdonly.Dockerfile"), dir}},
		{"build-platform-images-after", []string{"images"}},
	} {
		out, errOut, code := strata(t, root, "", s.args...)
		got := fmt.Sprintf("$ strata %s\n%s", strings.Join(s.args, " "), out)
		// Of the build's progress (times vary), the error line.
		for _, l := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(l, "Error:") {
				got += "[stderr]\n" + l + "\n"
			}
		}
		got += fmt.Sprintf("[exit %d]\n", code)
		testutil.Golden(t, "testdata/golden/"+s.name+".golden", hide.Replace(got))
	}
}
