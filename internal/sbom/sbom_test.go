package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// names lists packages as name@version, with the source package in
// parentheses when there is one.
func names(ps []Package) string {
	var out []string
	for _, p := range ps {
		s := p.Name + "@" + p.Version
		if p.Source != "" {
			s += "(" + p.Source + " " + p.SourceVersion + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestParsers(t *testing.T) {
	for _, tc := range []struct {
		name, file, path string
		want             string
	}{
		{"dpkg status: Source and its version, config-files left out", "dpkg-status", "var/lib/dpkg/status",
			"base-files@12.4+deb12u15 libc6@2.36-9+deb12u1(glibc 2.36-9+deb12u1) tzdata@2026b-0+deb12u1 zlib1g@1:1.2.13.dfsg-1(zlib 1:1.2.13.dfsg-1)"},
		{"apk installed: origin as source", "apk-installed", "lib/apk/db/installed",
			"musl@1.2.4-r2(musl 1.2.4-r2) libcrypto3@3.1.3-r0(openssl 3.1.3-r0) libssl3@3.1.3-r0(openssl 3.1.3-r0)"},
		{"METADATA: headers only", "METADATA", "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", "requests@2.31.0"},
		{"package-lock v3: nested copies, no links, no root", "package-lock.json", "app/package-lock.json",
			"@types/node@20.8.10 lodash@4.17.20 lodash@4.17.21"},
		{"package-lock v1: nested dependencies, no file: versions", "package-lock-v1.json", "app/package-lock.json",
			"minimist@1.2.5 nested@0.1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fixture(t, tc.file)
			c := catalogerFor(tc.path, 0o644)
			if c == nil {
				t.Fatalf("no cataloger for %s", tc.path)
			}
			pkgs, _, err := c.read(tc.path, int64(len(body)), strings.NewReader(body), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(pkgs); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDpkgSourceVersion(t *testing.T) {
	pkgs, err := parseDpkgStatus([]byte("Package: libx\nStatus: install ok installed\nSource: x (1.0-1)\nVersion: 1.0-1+b1\n"))
	if err != nil || names(pkgs) != "libx@1.0-1+b1(x 1.0-1)" {
		t.Errorf("got %s, %v", names(pkgs), err)
	}
}

func TestCatalogerFor(t *testing.T) {
	for _, tc := range []struct {
		path string
		mode int64
		want string
	}{
		{"var/lib/dpkg/status", 0o644, "sbom.dpkgCataloger"},
		{"var/lib/dpkg/status.d/base", 0o644, "sbom.dpkgCataloger"},
		{"var/lib/dpkg/status.d/base.md5sums", 0o644, "<nil>"},
		{"var/lib/dpkg/status-old", 0o644, "<nil>"},
		{"lib/apk/db/installed", 0o644, "sbom.apkCataloger"},
		{"usr/lib/python3.11/site-packages/x.egg-info", 0o644, "sbom.pythonCataloger"},
		{"usr/lib/python3.11/site-packages/x.egg-info/PKG-INFO", 0o644, "sbom.pythonCataloger"},
		{"app/node_modules/lodash/package.json", 0o644, "sbom.npmPackageCataloger"},
		{"app/node_modules/@types/node/package.json", 0o644, "sbom.npmPackageCataloger"},
		{"app/node_modules/lodash/fp/package.json", 0o644, "<nil>"},
		{"app/node_modules/x/package-lock.json", 0o644, "<nil>"},
		{"app/package.json", 0o644, "<nil>"},
		{"usr/bin/app", 0o755, "sbom.goCataloger"},
		{"usr/share/doc/README", 0o644, "<nil>"},
	} {
		if got := fmt.Sprintf("%T", catalogerFor(tc.path, tc.mode)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
}

// layered is an image whose packages come and go: a Go binary with
// golang.org/x/net v0.16.0 added in layer 2 and deleted in layer 3, a dpkg
// database rewritten (one upgrade, one removal), npm packages hidden by an
// opaque directory.
func layered(t testing.TB) []LayerReader {
	status := fixture(t, "dpkg-status")
	upgraded := strings.Replace(status, "Version: 1:1.2.13.dfsg-1", "Version: 1:1.2.13.dfsg-1+deb12u1", 1)
	upgraded = strings.Replace(upgraded, "Package: tzdata\n", "Package: tzdata-gone\n", 1)
	upgraded = strings.Replace(upgraded, "Package: tzdata-gone\nStatus: install ok installed", "Package: tzdata-gone\nStatus: purge ok not-installed", 1)
	tars := [][]byte{
		testutil.Tar(t, testutil.File("etc/os-release", fixture(t, "os-release-debian")),
			testutil.File("var/lib/dpkg/status", status),
			testutil.Entry{Name: "bin/sh", Body: "#!not elf", Mode: 0o755}),
		testutil.Tar(t, testutil.File("usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", fixture(t, "METADATA")),
			testutil.File("app/package-lock.json", fixture(t, "package-lock.json")),
			testutil.File("app/node_modules/lodash/package.json", `{"name": "lodash", "version": "4.17.20"}`)),
		testutil.Tar(t, testutil.Entry{Name: "usr/local/bin/app", Body: string(testutil.GoBinaryWithXNet(t, "v0.16.0")), Mode: 0o755},
			testutil.File("var/lib/dpkg/status", upgraded)),
		testutil.Tar(t, testutil.Whiteout("usr/local/bin/app"), testutil.Opaque("app/node_modules")),
	}
	var ls []LayerReader
	for i, b := range tars {
		ls = append(ls, LayerReader{Digest: fmt.Sprintf("sha256:layer%d", i),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
	}
	return ls
}

func TestLayers(t *testing.T) {
	s, err := FromLayers(context.Background(), layered(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings: %q", s.Warnings)
	}
	if s.Distro == nil || s.Distro.ID != "debian" || s.Distro.VersionID != "12" {
		t.Errorf("distro %+v", s.Distro)
	}
	// The Go toolchain's version varies: the stdlib line is checked, then
	// left out of the golden file.
	var stable []Package
	for _, p := range s.Packages {
		if p.Name == "stdlib" {
			if p.Layer != 2 || p.RemovedIn != 3 || !strings.HasPrefix(p.PURL, "pkg:golang/stdlib@") {
				t.Errorf("stdlib: %+v", p)
			}
			continue
		}
		stable = append(stable, p)
	}
	s.Packages = stable
	var out bytes.Buffer
	if err := WriteTable(&out, s); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "testdata/layers.golden", out.String())
	for _, p := range s.Packages {
		if p.Name == "golang.org/x/net" && (p.Version != "v0.16.0" || p.Layer != 2 || p.RemovedIn != 3 || p.PURL != "pkg:golang/golang.org/x/net@v0.16.0") {
			t.Errorf("x/net: %+v", p)
		}
		if p.Name == "libc6" && p.PURL != "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12&upstream=glibc" {
			t.Errorf("libc6 purl %s", p.PURL)
		}
	}
}

func TestCorruptDatabasesWarn(t *testing.T) {
	tar := testutil.Tar(t,
		testutil.File("var/lib/dpkg/status", "\x00\x01garbage with no fields\n"),
		testutil.File("lib/apk/db/installed", "not: an apk db\n"),
		testutil.File("var/lib/rpm/Packages", "\x00\x00\x00\x00 not a Berkeley DB"),
		testutil.File("var/lib/rpm/rpmdb.sqlite", "SQLite format 3\x00 cut short"),
		testutil.File("app/package-lock.json", `{"lockfileVersion": 3, "packages": `),
		testutil.File("usr/lib/python3/site-packages/x-1.dist-info/METADATA", "Summary: no name\n"),
		testutil.File("app/node_modules/ok/package.json", `{"name": "ok", "version": "1.0.0"}`),
		testutil.Entry{Name: "usr/bin/broken", Body: "\x7fELF but truncated", Mode: 0o755},
	)
	s, err := FromLayers(context.Background(), []LayerReader{{Digest: "sha256:x",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tar)), nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if names(s.Packages) != "ok@1.0.0" {
		t.Errorf("packages %s", names(s.Packages))
	}
	want := []string{"var/lib/dpkg/status: ", "lib/apk/db/installed: ", "var/lib/rpm/Packages: ", "var/lib/rpm/rpmdb.sqlite: ", "app/package-lock.json: ", "usr/lib/python3/site-packages/x-1.dist-info/METADATA: "}
	if len(s.Warnings) != len(want) {
		t.Fatalf("warnings %q", s.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(s.Warnings[i], w) {
			t.Errorf("warning %q, want one naming %s", s.Warnings[i], w)
		}
	}
}

func TestHugeMetadataReadsHeadersOnly(t *testing.T) {
	// The headers end early; the body is never read, whatever its size.
	r := io.MultiReader(strings.NewReader("Name: big\nVersion: 1\n\n"), neverEnding{})
	p, err := parsePythonMetadata(r)
	if err != nil || p.Name != "big" {
		t.Fatalf("%+v %v", p, err)
	}
	// No blank line in 1 GiB of headers: one error, after the cap.
	_, err = parsePythonMetadata(io.LimitReader(neverEnding{}, maxHeaders+10))
	if err == nil {
		t.Fatal("no error for headers past the cap")
	}
}

type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestDocuments(t *testing.T) {
	s, err := FromLayers(context.Background(), layered(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Image, s.ImageID = "app:1", "sha256:0123"
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	for _, tc := range []struct {
		name  string
		write func(io.Writer) error
		check func(t *testing.T, doc map[string]any)
	}{
		{"spdx", func(w io.Writer) error { return WriteSPDX(w, s, testutil.ModTime) }, func(t *testing.T, doc map[string]any) {
			if doc["spdxVersion"] != "SPDX-2.3" || doc["creationInfo"].(map[string]any)["created"] != "2023-11-14T22:13:20Z" {
				t.Errorf("header %v %v", doc["spdxVersion"], doc["creationInfo"])
			}
			if n := len(doc["packages"].([]any)); n != len(s.Packages)+1 {
				t.Errorf("%d packages, want %d and the image", n, len(s.Packages))
			}
		}},
		{"cyclonedx", func(w io.Writer) error { return WriteCycloneDX(w, s, testutil.ModTime) }, func(t *testing.T, doc map[string]any) {
			if doc["specVersion"] != "1.5" || doc["bomFormat"] != "CycloneDX" {
				t.Errorf("header %v %v", doc["specVersion"], doc["bomFormat"])
			}
			if n := len(doc["components"].([]any)); n != len(s.Packages) {
				t.Errorf("%d components, want %d", n, len(s.Packages))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := tc.write(&a); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(&b); err != nil || a.String() != b.String() {
				t.Errorf("two documents of one image differ (%v)", err)
			}
			var doc map[string]any
			if err := json.Unmarshal(a.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			tc.check(t, doc)
			if !strings.Contains(a.String(), "pkg:golang/golang.org/x/net@v0.16.0") || !strings.Contains(a.String(), "removed in layer 3") {
				t.Errorf("the document lacks the removed module:\n%s", a.String())
			}
		})
	}
}

// TestBigBinarySpooled reads a Go binary bigger than what is read into
// memory through a temporary file, which is gone afterwards.
func TestBigBinarySpooled(t *testing.T) {
	bin := testutil.GoBinaryWithXNet(t, "v0.16.0")
	defer func(n int64) { maxInMemory = n }(maxInMemory)
	maxInMemory = int64(len(bin)) / 2
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	pkgs, _, err := goCataloger{}.read("usr/local/bin/app", int64(len(bin)), bytes.NewReader(bin), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(names(pkgs), "golang.org/x/net@v0.16.0") {
		t.Errorf("packages %s", names(pkgs))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
