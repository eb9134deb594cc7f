package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// dpkgStatus is a dpkg database of two packages: libc6 at a version
// DSA-5514-1 (glibc) fixes in 2.36-9+deb12u3, and zlib1g.
const dpkgStatus = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
`

// scanFixture is a store holding "app:1": a Debian 12 base with dpkg's
// database (layer 0), a file (layer 1), a Go program built with
// golang.org/x/net v0.16.0 (layer 2), and a layer deleting the program
// (layer 3): the module is hidden but still shipped.
func scanFixture(t *testing.T) string {
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Image(t, st, nil, "app:1",
		testutil.Tar(t, testutil.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
			testutil.File("var/lib/dpkg/status", dpkgStatus)),
		testutil.Tar(t, testutil.File("etc/motd", "hello\n")),
		testutil.Tar(t, testutil.Entry{Name: "usr/local/bin/app", Body: string(testutil.GoBinaryWithXNet(t, "v0.16.0")), Mode: 0o755}),
		testutil.Tar(t, testutil.Whiteout("usr/local/bin/app")),
	)
	return root
}

// stdlibLine is the fixture's stdlib package, whose version is the Go
// toolchain's: the golden files leave it out.
var stdlibLine = regexp.MustCompile(`(?m)^.*\bstdlib\b.*\n`)

func stableGo(s string) string {
	if !stdlibLine.MatchString(s) {
		return s + "(no stdlib line)\n"
	}
	return stdlibLine.ReplaceAllString(s, "")
}

func TestSbom(t *testing.T) {
	root := scanFixture(t)
	out, errOut, code := strata(t, root, "", "sbom", "app:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	testutil.Golden(t, "testdata/sbom/table.golden", stableGo(out))

	dir := t.TempDir()
	for _, format := range []string{"spdx-json", "cyclonedx-json", "json"} {
		file := filepath.Join(dir, format)
		if _, errOut, code := strata(t, root, "", "sbom", "--format", format, "-o", file, "app:1"); code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) || !strings.Contains(string(b), "pkg:golang/golang.org/x/net@v0.16.0") {
			t.Errorf("%s: not JSON naming the module:\n%s", format, b)
		}
	}
	if _, errOut, code := strata(t, root, "", "sbom", "--format", "xml", "app:1"); code != 1 || !strings.Contains(errOut, "unknown --format") {
		t.Errorf("bad format: exit %d, %s", code, errOut)
	}
}

// TestAnalyzePackages: analyze counts the packages each layer adds, as
// sbom lists them.
func TestAnalyzePackages(t *testing.T) {
	root := scanFixture(t)
	out, errOut, code := strata(t, root, "", "analyze", "--format", "json", "app:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Layers []struct {
			Packages *int `json:"packages"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, l := range r.Layers {
		if l.Packages == nil {
			t.Fatalf("no package count: %s", out)
		}
		got = append(got, *l.Packages)
	}
	// libc6 and zlib1g; the program's stdlib, main module and x/net.
	if fmt.Sprint(got) != "[2 0 3 0]" {
		t.Errorf("packages per layer %v, want [2 0 3 0]", got)
	}
}
