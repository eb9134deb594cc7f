package sbom

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// Each parser of files an image holds must end without panicking on any
// input, and return packages with names and versions or none.

func seed(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkPackages(t *testing.T, pkgs []Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" {
			t.Fatalf("package without name or version: %+v", p)
		}
	}
}

func FuzzDpkgStatus(f *testing.F) {
	seed(f, "dpkg-status")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := parseDpkgStatus(b)
		checkPackages(t, pkgs)
	})
}

func FuzzApkInstalled(f *testing.F) {
	seed(f, "apk-installed")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := parseApkInstalled(b)
		checkPackages(t, pkgs)
	})
}

func FuzzPythonMetadata(f *testing.F) {
	seed(f, "METADATA")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePythonMetadata(bytes.NewReader(b))
		if err == nil {
			checkPackages(t, []Package{p})
		}
	})
}

func FuzzPackageLock(f *testing.F) {
	seed(f, "package-lock.json", "package-lock-v1.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := parsePackageLock(b)
		checkPackages(t, pkgs)
	})
}

func FuzzOSRelease(f *testing.F) {
	seed(f, "os-release-debian", "os-release-alpine")
	f.Fuzz(func(t *testing.T, b []byte) { parseOSRelease(b) })
}

// FuzzRPMDB reads Berkeley DB and NDB rpm databases: damaged ones are
// errors, never a panic, an endless loop or a huge allocation.
func FuzzRPMDB(f *testing.F) {
	for _, name := range []string{"centos6-libuuid-Packages.gz", "ubi8-s390x-Packages.gz"} {
		f.Add(gunzipFixture(f, name))
	}
	// An NDB database's head: its header, a slot, a blob.
	ndb := gunzipFixture(f, "sle15-bci-Packages.db.gz")
	f.Add(ndb[:8192])
	f.Fuzz(func(t *testing.T, b []byte) {
		blobs, err := rpmdbBlobs(io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b))))
		if err != nil {
			return
		}
		pkgs, _ := rpmPackages(blobs)
		checkPackages(t, pkgs)
	})
}

// FuzzRPMHeader reads one rpm header blob.
func FuzzRPMHeader(f *testing.F) {
	blobs, err := rpmdbBlobs(io.NewSectionReader(bytes.NewReader(gunzipFixture(f, "ubi8-s390x-Packages.gz")), 0, 1<<30))
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range blobs {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := parseRPMHeader(b); err == nil {
			checkPackages(t, []Package{p})
		}
	})
}
