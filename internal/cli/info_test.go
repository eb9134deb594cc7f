package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// infoVariable are the lines of `strata info` whose values depend on the
// machine (masked in the golden file, which keeps the layout).
var infoVariable = regexp.MustCompile(`(?m)^( ?(?:Server Version|Storage Driver|Why|Root Dir|Runtime|Cgroup Version|Cgroup Driver|Kernel Version|Operating System|Architecture|CPUs|Total Memory|Name)): .*$`)

func TestInfo(t *testing.T) {
	root := fixture(t)
	out, errOut, code := strata(t, root, "", "info")
	if code != 0 {
		t.Fatalf("info: %d %s", code, errOut)
	}
	testutil.Golden(t, "testdata/golden/info.golden", infoVariable.ReplaceAllString(out, "$1: X"))

	out, _, code = strata(t, root, "", "info", "--format", "json")
	var got systemInfo
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("info --format json: %d %v: %s", code, err, out)
	}
	if got.Images != 3 || got.DockerRootDir != root || got.NCPU == 0 || got.MemTotal == 0 || got.Driver == "" {
		t.Errorf("info json = %+v", got)
	}
	for _, tc := range []struct{ format, want string }{
		{"{{.Images}} {{.Rootless}}", "3 false"},
		{"{{.DockerRootDir}}", root},
		{"{{.Nope}}", ""},
	} {
		out, errOut, code := strata(t, root, "", "info", "--format", tc.format)
		if tc.want == "" {
			if code == 0 || !strings.Contains(errOut, "Nope") {
				t.Errorf("info --format %s: %d %q, want an error naming the field", tc.format, code, errOut)
			}
			continue
		}
		if code != 0 || strings.TrimSpace(out) != tc.want {
			t.Errorf("info --format %s = %q (%d %s), want %q", tc.format, out, code, errOut, tc.want)
		}
	}
}
