package sbom

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/strata-dev/strata/internal/testutil"
)

func gunzipFixture(t testing.TB, name string) []byte {
	t.Helper()
	return testutil.Gunzip(t, "testdata/rpm/"+name)
}

// rpmFixtures are the real rpm databases of testdata/rpm, one per format,
// at the paths their distributions keep them.
var rpmFixtures = []struct{ file, path string }{
	{"centos6-libuuid-Packages.gz", "var/lib/rpm/Packages"},
	{"ubi8-s390x-Packages.gz", "var/lib/rpm/Packages"},
	{"sle15-bci-Packages.db.gz", "usr/lib/sysimage/rpm/Packages.db"},
	{"cbl-mariner-2.0-rpmdb.sqlite.gz", "var/lib/rpm/rpmdb.sqlite"},
}

// TestRPMDatabases reads each fixture and checks every package against
// what go-rpmdb lists: name, epoch:version-release, arch, source rpm.
func TestRPMDatabases(t *testing.T) {
	for _, fx := range rpmFixtures {
		t.Run(fx.file, func(t *testing.T) {
			db := gunzipFixture(t, fx.file)
			c := catalogerFor(fx.path, 0o644)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			got, _, err := c.read(fx.path, int64(len(db)), bytes.NewReader(db), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			// go-rpmdb opens a path; it names the format by content.
			p := filepath.Join(t.TempDir(), filepath.Base(fx.path))
			if err := os.WriteFile(p, db, 0o644); err != nil {
				t.Fatal(err)
			}
			rdb, err := rpmdb.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			ref, err := rdb.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, rp := range ref {
				if rp.Name == "gpg-pubkey" {
					continue
				}
				v := rp.Version + "-" + rp.Release
				if rp.Epoch != nil {
					v = fmt.Sprint(*rp.Epoch, ":", v)
				}
				want = append(want, fmt.Sprintf("%s@%s %s %s", rp.Name, v, rp.Arch, rp.SourceRpm))
			}
			var have []string
			for _, p := range got {
				if p.Ecosystem != RPM {
					t.Errorf("%s: ecosystem %q", p.Name, p.Ecosystem)
				}
				src := ""
				if p.Source != "" {
					_, rel, _ := strings.Cut(p.SourceVersion, ":")
					if !strings.Contains(p.SourceVersion, ":") {
						rel = p.SourceVersion
					}
					src = p.Source + "-" + rel + ".src.rpm"
				}
				have = append(have, fmt.Sprintf("%s@%s %s %s", p.Name, p.Version, p.Arch, src))
			}
			slices.Sort(want)
			slices.Sort(have)
			if len(want) == 0 || !slices.Equal(have, want) {
				t.Errorf("got  %q\nwant %q", have, want)
			}
		})
	}
}

func TestRPMInLayers(t *testing.T) {
	db := gunzipFixture(t, "ubi8-s390x-Packages.gz")
	tar := testutil.Tar(t, testutil.File("etc/os-release", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"8.6\"\n"),
		testutil.File("var/lib/rpm/Packages", string(db)))
	s, err := FromLayers(context.Background(), []LayerReader{{Digest: "sha256:x",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tar)), nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(s.Packages); got != "openssl-libs@1:1.1.1k-6.el8_5(openssl 1:1.1.1k-6.el8_5) redhat-release@8.6-0.1.el8(redhat-release 8.6-0.1.el8) zlib@1.2.11-18.el8_5(zlib 1.2.11-18.el8_5)" {
		t.Errorf("packages %s", got)
	}
	for _, p := range s.Packages {
		if p.Name == "openssl-libs" && p.PURL != "pkg:rpm/rhel/openssl-libs@1.1.1k-6.el8_5?arch=s390x&distro=rhel-8.6&epoch=1&upstream=openssl-1.1.1k-6.el8_5.src.rpm" {
			t.Errorf("purl %s", p.PURL)
		}
	}
}

func TestCorruptRPMDatabases(t *testing.T) {
	good := gunzipFixture(t, "centos6-libuuid-Packages.gz")
	for name, db := range map[string][]byte{
		"var/lib/rpm/Packages":     good[:len(good)/3],
		"var/lib/rpm/Packages.db":  []byte("RpmP\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00 truncated"),
		"var/lib/rpm/rpmdb.sqlite": []byte("SQLite format 3\x00 but nothing else"),
	} {
		_, _, err := rpmCataloger{}.read(name, int64(len(db)), bytes.NewReader(db), &bytes.Buffer{})
		if err == nil {
			t.Errorf("%s: no error for a corrupt database", name)
		}
	}
}
