package cli

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestMultiPlatformStore: `pull --all-platforms` keeps a registry's index
// of two platforms under one name; images shows one row (--tree and -a a
// line per platform); inspect shows the index, --platform one entry;
// run's and analyze's --platform pick the entry; tag names the index; rmi
// of the last name removes the index and both images, nothing else.
func TestMultiPlatformStore(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	layer := func(body string) []byte {
		return testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/platform", Body: body + "\n"})
	}
	armDiffID, amdDiffID := digest.FromBytes(layer("linux/arm64")), digest.FromBytes(layer("linux/amd64"))
	amd := reg.PutImage(t, "multi", "", "linux/amd64", layer("linux/amd64"))
	arm := reg.PutImage(t, "multi", "", "linux/arm64/v8", layer("linux/arm64"))
	reg.PutIndex(t, "multi", "1", amd, arm)

	root := t.TempDir()
	name := reg.Host + "/multi:1"
	hide := strings.NewReplacer(reg.Host, "<registry>")
	// Creation times of the registry's images vary with the run.
	ago := regexp.MustCompile(`(\d+ \w+|About an? \w+|Less than a second) ago`)
	var got strings.Builder
	for _, args := range [][]string{
		{"pull", "--all-platforms", name},
		{"images"},
		{"images", "--tree"},
		{"images", "-a"},
		{"inspect", name},
		{"inspect", "--platform", "linux/arm64", "--format", "{{.Id}} {{.Os}}/{{.Architecture}}/{{.Variant}}", name},
		{"inspect", "--platform", "linux/s390x", name},
		{"analyze", "--platform", "linux/arm64", "--format", "json", name},
		{"tag", name, "other:2"},
		{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"},
		{"rmi", name},
		{"rmi", "other:2"},
		{"images", "-a"},
		{"fsck"},
	} {
		out, errOut, code := strata(t, root, "", args...)
		if args[0] == "analyze" {
			// The arm64 image's layer, by its diffID in the report.
			out = fmt.Sprintf("arm64 layer analysed: %v, amd64 layer: %v\n", strings.Contains(out, armDiffID.String()), strings.Contains(out, amdDiffID.String()))
		}
		fmt.Fprintf(&got, "$ strata %s\n%s", strings.Join(args, " "), out)
		if errOut != "" {
			fmt.Fprintf(&got, "[stderr]\n%s", errOut)
		}
		fmt.Fprintf(&got, "[exit %d]\n", code)
	}
	testutil.Golden(t, "testdata/golden/multiplatform-store.golden", ago.ReplaceAllString(hide.Replace(got.String()), "<ago>"))
}
