package cli

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// lastTagTime is the one field of inspect that records the wall clock.
var lastTagTime = regexp.MustCompile(`"LastTagTime": "[^"]*"`)

// testNow is the clock of golden runs: CREATED columns count from it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// strata runs one command line in-process against root.
func strata(t *testing.T, root, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e, now: func() time.Time { return testNow }}
	code = a.execute(append([]string{"--root", root}, args...))
	return o.String(), e.String(), code
}

// fixture is a store with a two-layer base image, an app image on top of it
// with one more layer, and a dangling image.
func fixture(t *testing.T) string {
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	baseImg := storetest.Image(t, st, nil, "busybox:latest",
		testutil.Tar(t, testutil.Entry{Name: "bin/"}, testutil.Entry{Name: "bin/sh", Body: strings.Repeat("s", 1500000), Mode: 0o755}),
		testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\n"}),
	)
	storetest.Image(t, st, baseImg, "example.com:5000/team/app:v1",
		testutil.Tar(t, testutil.Entry{Name: "app/"}, testutil.Entry{Name: "app/main", Body: strings.Repeat("a", 250000), Mode: 0o755}))
	storetest.Image(t, st, nil, "", testutil.Tar(t, testutil.Entry{Name: "dangling", Body: "d"}))
	r, _ := image.ParseTagged("mybox:1")
	if err := st.Tag(baseImg.ID, r); err != nil {
		t.Fatal(err)
	}
	return root
}

// storeSpaceLine is a line of df -v's store space table.
var storeSpaceLine = regexp.MustCompile(`(?m)^(blobs|snapshots|meta\.db|containers|runtime|other|total)(\s+)\S.*$`)

func TestGolden(t *testing.T) {
	// No advisory database by default: image diff's output stays that of
	// its packages.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root := fixture(t)
	steps := []struct {
		name string
		args []string
	}{
		{"images", []string{"images"}},
		{"images-digests-notrunc", []string{"images", "--digests", "--no-trunc"}},
		{"images-quiet", []string{"images", "-q"}},
		{"images-filter", []string{"images", "busybox"}},
		{"images-template", []string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"}},
		{"images-table-template", []string{"images", "--format", "table {{.ID}}\t{{.Repository}}"}},
		{"images-json", []string{"images", "--format", "json"}},
		// docker images --format 'table {{.Repository}}\t{{.Tag}}': the
		// backslash-t as typed in single quotes is a tab.
		{"images-table-escaped-tab", []string{"images", "--format", `table {{.Repository}}\t{{.Tag}}`}},
		{"history", []string{"history", "example.com:5000/team/app:v1"}},
		{"history-notrunc-raw", []string{"history", "--no-trunc", "-H=false", "busybox"}},
		{"image-diff", []string{"image", "diff", "busybox", "example.com:5000/team/app:v1"}},
		{"image-diff-json", []string{"image", "diff", "--format", "json", "example.com:5000/team/app:v1", "busybox"}},
		{"errors-image-diff-format", []string{"image", "diff", "--format", "yaml", "busybox", "busybox"}},
		{"inspect-format", []string{"inspect", "--format", "{{.Id}} {{json .RepoTags}} {{len .RootFS.Layers}} {{.Os}}/{{.Architecture}}", "busybox", "example.com:5000/team/app:v1"}},
		{"inspect-full", []string{"inspect", "mybox:1"}},
		// docker 20.10 (recorded): exit 1, "template parsing error: template:
		// :1:2: executing "" at <.Nope>: map has no entry for key "Nope"".
		// Fields docker's JSON omits when empty are still fields (docker:
		// "null |false").
		{"inspect-format-omitted", []string{"inspect", "--format", "{{json .Config.ExposedPorts}} {{.Config.StopSignal}}|{{.Config.ArgsEscaped}}", "busybox"}},
		{"errors-inspect-missing-key", []string{"inspect", "--format", "{{.Id}} {{.Nope}}", "busybox"}},
		{"errors-inspect-missing-nested-key", []string{"inspect", "--format", "{{.Config.Nope}}", "busybox"}},
		// docker: "can't evaluate field Nope in type *formatter.imageContext".
		{"errors-images-missing-field", []string{"images", "--format", "{{.Nope}}"}},
		{"system-df", []string{"system", "df", "-v"}},
		{"fsck", []string{"fsck"}},
		{"tag", []string{"tag", "busybox", "registry.local/x/y:2"}},
		{"images-after-tag", []string{"images", "registry.local/x/y"}},
		{"rmi-untag", []string{"rmi", "registry.local/x/y:2"}},
		{"rmi-conflict", []string{"rmi", "busybox:latest", "mybox:1", "example.com:5000/team/app:v1"}},
		{"image-prune", []string{"image", "prune", "-f"}},
		{"image-ls-alias", []string{"image", "ls"}},
		{"errors-no-such-image", []string{"inspect", "nope"}},
		{"errors-rmi-no-such", []string{"rmi", "nope:1"}},
		{"errors-bad-tag", []string{"tag", "busybox", "Bad:Name:x"}},
		{"errors-bad-template", []string{"images", "--format", "{{.Nope"}},
	}
	for _, s := range steps {
		out, errOut, code := strata(t, root, "", s.args...)
		got := fmt.Sprintf("$ strata %s\n%s", strings.Join(s.args, " "), out)
		if errOut != "" {
			got += "[stderr]\n" + errOut
		}
		got += fmt.Sprintf("[exit %d]\n", code)
		got = lastTagTime.ReplaceAllString(got, `"LastTagTime": "(time of tagging)"`)
		// Directory sizes depend on the filesystem the test runs on.
		got = storeSpaceLine.ReplaceAllString(got, "$1$2(size)")
		testutil.Golden(t, "testdata/golden/"+s.name+".golden", got)
	}
}
