package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/sbom"
	"github.com/strata-dev/strata/internal/testutil"
)

func TestCompare(t *testing.T) {
	// Each pair is in increasing order in its ecosystem.
	for _, tc := range []struct {
		eco  string
		a, b string
	}{
		{sbom.Debian, "2.36-9+deb12u1", "2.36-9+deb12u3"},
		{sbom.Debian, "2.36-9+deb12u9", "2.36-9+deb12u10"},
		{sbom.Debian, "1.0~rc1-1", "1.0-1"},
		{sbom.Debian, "9:1.0-1", "1:1.2.13.dfsg-1"[0:0] + "10:0.1-1"},
		{sbom.Alpine, "3.1.3-r0", "3.1.4-r0"},
		{sbom.Alpine, "1.2.4-r9", "1.2.4-r10"},
		{sbom.Alpine, "1.0_rc1-r0", "1.0-r0"},
		{sbom.Go, "0.16.0", "v0.17.0"},
		{sbom.Go, "1.21.0-0", "1.21.0"},
		{sbom.Go, "1.20.10", "1.21.0-0"},
		{sbom.PyPI, "2.31.0rc1", "2.31.0"},
		{sbom.PyPI, "2.31.0", "2.31.0.post1"},
		{sbom.PyPI, "1.0.dev1", "1.0a1"},
		{sbom.Npm, "4.17.20", "4.17.21"},
		{sbom.Npm, "1.0.0-beta.2", "1.0.0-beta.11"},
		{sbom.Npm, "1.0.0-rc.1", "1.0.0"},
	} {
		cmp := comparators[tc.eco]
		if c, err := cmp(tc.a, tc.b); err != nil || c >= 0 {
			t.Errorf("%s: %s vs %s: %d, %v (want <0)", tc.eco, tc.a, tc.b, c, err)
		}
		if c, err := cmp(tc.b, tc.a); err != nil || c <= 0 {
			t.Errorf("%s: %s vs %s: %d, %v (want >0)", tc.eco, tc.b, tc.a, c, err)
		}
		if c, err := cmp(tc.a, tc.a); err != nil || c != 0 {
			t.Errorf("%s: %s vs itself: %d, %v", tc.eco, tc.a, c, err)
		}
	}
}

func TestAffects(t *testing.T) {
	adv := load(t, "testdata/db/Go/GO-2023-2102.json")
	stdlib, xnet := &adv.Affected[0], &adv.Affected[1]
	lastAffected := &Affected{Ranges: []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "1.0.0"}, {LastAffected: "1.2.0"}}}}}
	listed := &Affected{Versions: []string{"0.9.1"}}
	git := &Affected{Ranges: []Range{{Type: "GIT", Events: []Event{{Introduced: "0"}, {Fixed: "abc123"}}}}}
	for _, tc := range []struct {
		name     string
		af       *Affected
		eco, v   string
		hit      bool
		fixed    string
		anyError bool
	}{
		{"x/net below the fix", xnet, sbom.Go, "v0.16.0", true, "0.17.0", false},
		{"x/net at the fix", xnet, sbom.Go, "v0.17.0", false, "", false},
		{"x/net pseudo-version before the fix", xnet, sbom.Go, "v0.0.0-20230101000000-abcdefabcdef", true, "0.17.0", false},
		{"stdlib 1.20 line", stdlib, sbom.Go, "1.20.9", true, "1.20.10", false},
		{"stdlib 1.20 fixed", stdlib, sbom.Go, "1.20.10", false, "", false},
		{"stdlib 1.21 line", stdlib, sbom.Go, "1.21.2", true, "1.21.3", false},
		{"stdlib 1.21 fixed", stdlib, sbom.Go, "1.21.3", false, "", false},
		{"stdlib newer", stdlib, sbom.Go, "1.26.0", false, "", false},
		{"last_affected included", lastAffected, sbom.Npm, "1.2.0", true, "", false},
		{"past last_affected", lastAffected, sbom.Npm, "1.2.1", false, "", false},
		{"before introduced", lastAffected, sbom.Npm, "0.9.0", false, "", false},
		{"listed version", listed, sbom.Npm, "0.9.1", true, "", false},
		{"git ranges ignored", git, sbom.Npm, "1.0.0", false, "", false},
		{"unreadable version", xnet, sbom.Go, "(devel)", false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hit, fixed, err := affects(tc.af, tc.v, comparators[tc.eco])
			if hit != tc.hit || fixed != tc.fixed || (err != nil) != tc.anyError {
				t.Errorf("got %v %q %v, want %v %q (error %v)", hit, fixed, err, tc.hit, tc.fixed, tc.anyError)
			}
		})
	}
}

func TestCVSS3(t *testing.T) {
	for v, want := range map[string]float64{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		"CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H": 7.2,
		"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N": 6.1,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H": 7.5,
		"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H": 8.8,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0,
	} {
		if got, ok := cvss3(v); !ok || got != want {
			t.Errorf("%s: %v %v, want %v", v, got, ok, want)
		}
	}
	for _, bad := range []string{"", "CVSS:2.0/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"} {
		if _, ok := cvss3(bad); ok {
			t.Errorf("%q read as CVSS v3", bad)
		}
	}
}

func load(t *testing.T, p string) *Advisory {
	t.Helper()
	a, err := readRecord(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// image is the SBOM of a Debian 12 image: glibc's libc6 at a version
// DSA-5514-1 fixes (layer 0), requests already fixed and lodash affected
// (layer 1), a Go program with golang.org/x/net v0.16.0 (layer 2) deleted
// by layer 3.
func image() *sbom.SBOM {
	return &sbom.SBOM{
		Image: "app:1", ImageID: "sha256:0123",
		Distro: &sbom.Distro{ID: "debian", VersionID: "12"},
		Layers: []sbom.Layer{{Index: 0, Digest: "sha256:aaaaaaaaaaaaaaaa", Instruction: "/bin/sh -c #(nop) ADD file:123 in / "},
			{Index: 1, Digest: "sha256:bbbbbbbbbbbbbbbb", Instruction: "RUN pip install requests && npm i lodash"},
			{Index: 2, Digest: "sha256:cccccccccccccccc", Instruction: "COPY app /usr/local/bin/app"},
			{Index: 3, Digest: "sha256:dddddddddddddddd", Instruction: "RUN rm /usr/local/bin/app"}},
		Packages: []sbom.Package{
			{Name: "libc6", Version: "2.36-9+deb12u1", Ecosystem: sbom.Debian, Source: "glibc", SourceVersion: "2.36-9+deb12u1", Path: "var/lib/dpkg/status", Layer: 0, RemovedIn: -1},
			{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Ecosystem: sbom.Debian, Source: "zlib", SourceVersion: "1:1.2.13.dfsg-1", Path: "var/lib/dpkg/status", Layer: 0, RemovedIn: -1},
			{Name: "Requests", Version: "2.31.0", Ecosystem: sbom.PyPI, Path: "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", Layer: 1, RemovedIn: -1},
			{Name: "lodash", Version: "4.17.20", Ecosystem: sbom.Npm, Path: "app/node_modules/lodash/package.json", Layer: 1, RemovedIn: -1},
			{Name: "golang.org/x/net", Version: "v0.16.0", Ecosystem: sbom.Go, Path: "usr/local/bin/app", Layer: 2, RemovedIn: 3},
			{Name: "stdlib", Version: "1.21.5", Ecosystem: sbom.Go, Path: "usr/local/bin/app", Layer: 2, RemovedIn: 3},
			{Name: "example.com/app", Version: "(devel)", Ecosystem: sbom.Go, Path: "usr/local/bin/app", Layer: 2, RemovedIn: 3},
		},
	}
}

func TestScan(t *testing.T) {
	r, err := Scan(image(), "testdata/db")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], filepath.Join("testdata/db/Go/BROKEN-1.json")+": ") {
		t.Errorf("warnings %q, want one naming the broken record", r.Warnings)
	}
	var out bytes.Buffer
	if err := WriteTable(&out, r); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "testdata/table.golden", out.String())

	r.Filter([]string{"UNKNOWN"}, false)
	if len(r.Findings) != 2 || r.Findings[0].ID != "DSA-5514-1" || r.Findings[1].ID != "GO-2023-2102" || r.Findings[1].Status() != "removed in layer 3, still shipped" {
		t.Errorf("UNKNOWN findings: %+v", r.Findings)
	}
	r.Filter(nil, true)
	if len(r.Findings) != 1 || r.Findings[0].Package != "libc6" {
		t.Errorf("present findings: %+v", r.Findings)
	}
}

// TestAlpine matches Alpine's secdb entry for CVE-2023-5363 (openssl,
// fixed in 3.1.4-r0 in v3.18) against the apk database of a layer
// (internal/sbom's fixture: libssl3 and libcrypto3 3.1.3-r0, origin
// openssl), by the source package, for the image's release only.
func TestAlpine(t *testing.T) {
	installed, err := os.ReadFile("../sbom/testdata/apk-installed")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		versionID, want string
	}{
		{"3.18.4", "libcrypto3 3.1.4-r0 HIGH;libssl3 3.1.4-r0 HIGH"},
		{"3.19.0", ""}, // the v3.18 advisory does not apply
	} {
		s := fromLayer(t, "ID=alpine\nVERSION_ID="+tc.versionID+"\n", "lib/apk/db/installed", installed)
		r, err := Scan(s, "testdata/db")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range r.Findings {
			if f.ID != "ALPINE-CVE-2023-5363" || f.Source != "openssl" {
				t.Errorf("finding %+v", f)
			}
			got = append(got, f.Package+" "+f.Fixed+" "+f.Severity)
		}
		slices.Sort(got)
		if strings.Join(got, ";") != tc.want {
			t.Errorf("Alpine %s: findings %q, want %q", tc.versionID, got, tc.want)
		}
	}
}

// fromLayer is the SBOM of an image of one layer: an os-release and a
// package database.
func fromLayer(t *testing.T, osRelease, path string, db []byte) *sbom.SBOM {
	t.Helper()
	layer := testutil.Tar(t, testutil.File("etc/os-release", osRelease), testutil.File(path, string(db)))
	s, err := sbom.FromLayers(context.Background(), []sbom.LayerReader{{Digest: "sha256:x",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil }}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSARIFAndJSON(t *testing.T) {
	r, err := Scan(image(), "testdata/db")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSARIF(&b, r); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != len(r.Findings) || len(log.Runs[0].Tool.Driver.Rules) != len(r.Findings) {
		t.Fatalf("sarif: %s", b.String())
	}
	for i, res := range log.Runs[0].Results {
		if res.RuleID != r.Findings[i].ID || res.Locations[0].PhysicalLocation.ArtifactLocation.URI != r.Findings[i].Path {
			t.Errorf("result %d: %+v", i, res)
		}
	}
	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Findings) != len(r.Findings) {
		t.Errorf("json: %v %s", err, b.String())
	}
}

func TestImport(t *testing.T) {
	goRecord, err := os.ReadFile("testdata/db/Go/GO-2023-2102.json")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for name, body := range map[string]string{
		"GO-2023-2102.json": string(goRecord),
		"junk.json":         "not json",
		"README.txt":        "not a record",
		"MULTI-1.json":      `{"id": "MULTI-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "x"}}, {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "x"}}]}`,
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	zipFile := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(zipFile, zb.Bytes(), 0o644)

	db := t.TempDir()
	var warnings []string
	n, err := Import(db, zipFile, func(w string) { warnings = append(warnings, w) })
	if err != nil || n != 2 {
		t.Fatalf("imported %d, %v", n, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "junk.json") {
		t.Errorf("warnings %q", warnings)
	}
	for _, p := range []string{"Go/GO-2023-2102.json", "Debian/MULTI-1.json", "Ubuntu/MULTI-1.json"} {
		if _, err := os.Stat(filepath.Join(db, p)); err != nil {
			t.Error(err)
		}
	}
	// A directory imports the same way, and an import again replaces.
	warnings = nil
	n, err = Import(db, "testdata/db", func(w string) { warnings = append(warnings, w) })
	if err != nil || n != 7 || len(warnings) != 1 {
		t.Errorf("directory import: %d %v %q", n, err, warnings)
	}
	r, err := Scan(image(), db)
	if err != nil || len(r.Findings) != 3 {
		t.Errorf("scan of the imported db: %v %+v", err, r)
	}
	if _, err := Import(db, "testdata/README", func(string) {}); err == nil {
		t.Error("a file that is not a zip imported")
	}
	if _, err := Scan(image(), filepath.Join(db, "missing")); err == nil || !strings.Contains(err.Error(), "--db-import") {
		t.Errorf("missing db: %v", err)
	}
}

// TestOrderingFixtures checks each ecosystem's version order against
// osv-scalibr's ordering fixtures (generated from the ecosystems' own
// tools): no comparison may disagree; lines a comparator cannot read
// (PEP 440 rejects legacy versions, strict semver rejects some) are
// counted, and must stay few. osv-scalibr has no generated Red Hat file:
// redhat.txt is rpm's own hand-written cases, which include on purpose
// EVRs no package has (epochs "a:" and "+2-n:", empty releases "1-"): the
// rpm comparator refuses those, and only those.
func TestOrderingFixtures(t *testing.T) {
	for _, fx := range []struct{ file, eco string }{
		{"alpine", sbom.Alpine}, {"debian", sbom.Debian}, {"redhat", sbom.RPM}, {"pypi", sbom.PyPI},
		{"semver", sbom.Npm}, {"semver", sbom.Go}, // Go modules are semantic versions too (x/mod/semver)
	} {
		file, eco := fx.file, fx.eco
		t.Run(file+"/"+eco, func(t *testing.T) {
			b, err := os.ReadFile("testdata/versions/" + file + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			total, unreadable := 0, 0
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) != 3 || strings.HasPrefix(line, "#") {
					continue
				}
				total++
				c, err := comparators[eco](f[0], f[2])
				if err != nil {
					unreadable++
					if eco == sbom.RPM && !strings.Contains(err.Error(), "epoch is not a number") && !strings.Contains(err.Error(), "empty release") {
						t.Errorf("%s: %v", line, err)
					}
					continue
				}
				want := map[string]int{"<": -1, "=": 0, ">": 1}[f[1]]
				if got := max(-1, min(1, c)); got != want {
					t.Errorf("%s: got %d", line, got)
				}
			}
			if total == 0 || (eco != sbom.RPM && unreadable*20 > total) {
				t.Errorf("%d of %d lines unreadable", unreadable, total)
			}
		})
	}
}

// TestRPMAdvisories matches Red Hat's and AlmaLinux's advisories for
// openssl (RHSA-2022:5818, ALSA-2022:5818) against the rpm database of a
// real RHEL UBI 8 image (internal/sbom's fixture), read as a layer: the
// release that applies is the image's (os-release), by rpm version order.
func TestRPMAdvisories(t *testing.T) {
	db := testutil.Gunzip(t, "../sbom/testdata/rpm/ubi8-s390x-Packages.gz")
	for _, tc := range []struct {
		osRelease string
		want      string // id, package, fixed; "" for none
	}{
		{"ID=\"rhel\"\nVERSION_ID=\"8.6\"\n", "RHSA-2022:5818 openssl-libs 1:1.1.1k-7.el8_6 MEDIUM CVE-2022-1292"},
		{"ID=\"almalinux\"\nVERSION_ID=\"8.6\"\n", "ALSA-2022:5818 openssl-libs 1:1.1.1k-7.el8_6 MEDIUM CVE-2022-1292"},
		{"ID=\"almalinux\"\nVERSION_ID=\"9.2\"\n", ""}, // AlmaLinux:8's advisory
		{"ID=\"rhel\"\nVERSION_ID=\"9.2\"\n", ""},
		{"ID=\"centos\"\nVERSION_ID=\"8\"\n", ""}, // no advisories of its own
	} {
		r, err := Scan(fromLayer(t, tc.osRelease, "var/lib/rpm/Packages", db), "testdata/db")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range r.Findings {
			got = append(got, strings.Join([]string{f.ID, f.Package, f.Fixed, f.Severity, f.Aliases[0]}, " "))
		}
		if strings.Join(got, ";") != tc.want {
			t.Errorf("%q: findings %q, want %q", tc.osRelease, got, tc.want)
		}
	}
}

func TestReleaseApplies(t *testing.T) {
	el9 := &sbom.Distro{ID: "rhel", VersionID: "9.2"}
	for _, tc := range []struct {
		adv, base string
		d         *sbom.Distro
		want      bool
	}{
		{"Red Hat:enterprise_linux:9::appstream", "Red Hat", el9, true},
		{"Red Hat:enterprise_linux:9.2::baseos", "Red Hat", el9, true},
		{"Red Hat:enterprise_linux:8::baseos", "Red Hat", el9, false},
		{"Red Hat:rhel_eus:9.2::baseos", "Red Hat", el9, false},
		{"Rocky Linux:9", "Rocky Linux", &sbom.Distro{ID: "rocky", VersionID: "9.3"}, true},
		{"Rocky Linux:8", "Rocky Linux", &sbom.Distro{ID: "rocky", VersionID: "9.3"}, false},
		{"Debian:12", sbom.Debian, &sbom.Distro{ID: "debian", VersionID: "12"}, true},
		{"Alpine:v3.18", sbom.Alpine, &sbom.Distro{ID: "alpine", VersionID: "3.18.4"}, true},
		{"npm", sbom.Npm, nil, true},
	} {
		if got := releaseApplies(tc.adv, tc.base, tc.d); got != tc.want {
			t.Errorf("%s for %s %+v: %v", tc.adv, tc.base, tc.d, got)
		}
	}
}
