package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive/archivetest"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/testutil"
)

// archiveStore is a store with one small tagged image.
func archiveStore(t *testing.T) (string, *store.Store, *metadata.Image) {
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	l := archivetest.AddLayer(t, st, []testutil.Entry{{Name: "etc/"}, {Name: "etc/hello", Body: "hello\n"}}, layer.Gzip)
	im := archivetest.Image(t, st, nil, []metadata.Layer{l}, "busybox:latest", "example.com/team/app:v1")
	return root, st, im
}

func TestSaveLoadCLI(t *testing.T) {
	root, _, im := archiveStore(t)
	dir := t.TempDir()
	var transcript strings.Builder
	step := func(root, stdin string, args ...string) string {
		out, errOut, code := strata(t, root, stdin, args...)
		a := strings.Join(args, " ")
		a = strings.ReplaceAll(a, dir, "DIR")
		shown := out
		if strings.HasPrefix(out, "oci-layout") {
			shown = fmt.Sprintf("(a tar of %d bytes)\n", len(out))
		}
		// Digests depend on the architecture in the config.
		shown = idRE.ReplaceAllString(hexRE.ReplaceAllString(shown, "<hex>"), "<id>")
		a = idRE.ReplaceAllString(a, "<id>")
		fmt.Fprintf(&transcript, "$ strata %s\n%s", a, shown)
		if errOut != "" {
			transcript.WriteString("[stderr]\n" + strings.ReplaceAll(errOut, dir, "DIR"))
		}
		fmt.Fprintf(&transcript, "[exit %d]\n", code)
		return out
	}
	docker := filepath.Join(dir, "d.tar")
	oci := filepath.Join(dir, "o.tar")
	step(root, "", "save", "-o", docker, "busybox")
	step(root, "", "save", "--format", "oci-archive", "-o", oci, "busybox", "example.com/team/app:v1")
	step(root, "", "save", "--format", "zip", "busybox")
	step(root, "", "save", "-o", filepath.Join(dir, "x.tar"), "nope")
	// Refused before anything is written, as docker refuses them.
	step(root, "", "save", "-o", filepath.Join(dir, "missing", "x.tar"), "busybox")
	step(root, "", "save", "-o", dir, "busybox")
	if _, err := os.Stat(filepath.Join(dir, "x.tar")); err == nil {
		t.Errorf("a failed save left its output file")
	}
	stdoutTar := step(root, "", "save", im.ID.Encoded()[:12]) // to stdout (not a terminal here)
	for _, p := range []string{docker, oci} {
		r2 := t.TempDir()
		step(r2, "", "load", "-i", p)
		b, _ := os.ReadFile(p)
		step(r2, string(b), "load")
		step(r2, string(b), "load", "-q", "-i", "-")
		step(r2, "", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	}
	r3 := t.TempDir()
	step(r3, stdoutTar, "load")
	testutil.Golden(t, "testdata/archive/save-load.golden", transcript.String())
}

// entries reads a tar's entries.
func entries(t *testing.T, b []byte) []testutil.Entry {
	var out []testutil.Entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		e := testutil.Entry{Name: h.Name, Body: string(data)}
		if h.Typeflag == tar.TypeDir {
			e.Type = tar.TypeDir
		}
		if h.Typeflag == tar.TypeSymlink {
			e.Link = h.Linkname
		}
		out = append(out, e)
	}
}

var (
	hexRE = regexp.MustCompile(`[0-9a-f]{64}`)
	idRE  = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
)

// TestLoadBadInput: every bad archive fails with one line and leaves the
// store's images and names as they were.
func TestLoadBadInput(t *testing.T) {
	root, st, im := archiveStore(t)
	var okDocker, okOCI bytes.Buffer
	if _, _, code := strata(t, root, "", "save", "-o", filepath.Join(root, "d.tar"), "busybox"); code != 0 {
		t.Fatal("save failed")
	}
	b, _ := os.ReadFile(filepath.Join(root, "d.tar"))
	okDocker.Write(b)
	strata(t, root, "", "save", "--format", "oci-archive", "-o", filepath.Join(root, "o.tar"), "busybox")
	b, _ = os.ReadFile(filepath.Join(root, "o.tar"))
	okOCI.Write(b)
	layerHex := im.Layers[0].Digest.Encoded()
	// An image whose layer the store does not have: a layer the store
	// has is taken from the store unread, whatever bytes the archive holds.
	otherRoot := t.TempDir()
	ost, _ := store.Open(otherRoot)
	ol := archivetest.AddLayer(t, ost, []testutil.Entry{{Name: "other", Body: strings.Repeat("other", 1000)}}, layer.Gzip)
	archivetest.Image(t, ost, nil, []metadata.Layer{ol}, "other:1")
	strata(t, otherRoot, "", "save", "--format", "oci-archive", "-o", filepath.Join(otherRoot, "o.tar"), "other:1")
	otherOCI, _ := os.ReadFile(filepath.Join(otherRoot, "o.tar"))
	diffHex := im.Layers[0].DiffID.Encoded()

	layerTar := testutil.Tar(t, testutil.Entry{Name: "new", Body: "new layer"})
	cfg := func(diffIDs ...digest.Digest) []byte {
		var q []string
		for _, d := range diffIDs {
			q = append(q, `"`+d.String()+`"`)
		}
		return []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[` + strings.Join(q, ",") + `]}}`)
	}
	goodCfg := cfg(digest.FromBytes(layerTar))
	goodCfgName := digest.FromBytes(goodCfg).Encoded() + ".json"
	legacy := func(cfgName string, cfgData []byte, manifest string, extra ...testutil.Entry) []byte {
		es := append([]testutil.Entry{{Name: "l1/layer.tar", Body: string(layerTar)}, {Name: cfgName, Body: string(cfgData)}}, extra...)
		es = append(es, testutil.Entry{Name: "manifest.json", Body: manifest})
		return testutil.Tar(t, es...)
	}
	manifest := func(config, layer string) string {
		return `[{"Config":"` + config + `","RepoTags":["evil:1","busybox:latest"],"Layers":["` + layer + `"]}]`
	}
	modify := func(src []byte, f func(e *testutil.Entry) bool) []byte {
		es := entries(t, src)
		var out []testutil.Entry
		for _, e := range es {
			if f(&e) {
				out = append(out, e)
			}
		}
		return testutil.Tar(t, out...)
	}
	badLayer := testutil.Tar(t, testutil.Entry{Name: "../../etc/evil", Body: "x"})

	cases := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"truncated", okDocker.Bytes()[:okDocker.Len()/2]},
		{"truncated-oci", okOCI.Bytes()[:okOCI.Len()-1500]},
		{"not-a-tar", bytes.Repeat([]byte("garbage!"), 300)},
		{"corrupt-header", func() []byte {
			b := bytes.Clone(okOCI.Bytes())
			copy(b[512*2+100:], "XXXXXXXX") // the mode field of an entry header
			return b
		}()},
		{"wrong-digest", modify(otherOCI, func(e *testutil.Entry) bool {
			if strings.HasSuffix(e.Name, ol.Digest.Encoded()) {
				b := []byte(e.Body)
				b[len(b)-3] ^= 0xff
				e.Body = string(b)
			}
			return true
		})},
		{"wrong-digest-config", modify(okOCI.Bytes(), func(e *testutil.Entry) bool {
			if strings.HasSuffix(e.Name, im.ID.Encoded()) {
				e.Body = strings.Replace(e.Body, "amd64", "arm64", 1)
			}
			return true
		})},
		{"malformed-manifest-json", legacy(goodCfgName, goodCfg, `[{"Config":`)},
		{"malformed-index-json", modify(okOCI.Bytes(), func(e *testutil.Entry) bool {
			if e.Name == "index.json" {
				e.Body = `{"schemaVersion":2,"manifests":[{`
			}
			return true
		})},
		{"malformed-config", legacy("c.json", []byte(`{"rootfs":`), manifest("c.json", "l1/layer.tar"))},
		{"dotdot-entry", testutil.Tar(t, testutil.Entry{Name: "../evil", Body: "x"})},
		{"dotdot-inner-entry", testutil.Tar(t, testutil.Entry{Name: "a/../../evil", Body: "x"})},
		{"absolute-entry", testutil.Tar(t, testutil.Entry{Name: "/etc/evil", Body: "x"})},
		{"manifest-config-outside", legacy(goodCfgName, goodCfg, manifest("../../etc/passwd", "l1/layer.tar"))},
		{"manifest-layer-absolute", legacy(goodCfgName, goodCfg, manifest(goodCfgName, "/etc/passwd"))},
		{"manifest-missing-layer", legacy(goodCfgName, goodCfg, manifest(goodCfgName, "l2/layer.tar"))},
		{"manifest-missing-config", legacy(goodCfgName, goodCfg, manifest("nope.json", "l1/layer.tar"))},
		{"diffid-mismatch", legacy("c.json", cfg(digest.FromString("other")), manifest("c.json", "l1/layer.tar"))},
		{"diffid-mismatch-known-layer", legacy("c.json", cfg(digest.FromString("other")), manifest("c.json", diffHex+".tar"), testutil.Entry{Name: diffHex + ".tar", Body: string(layerTar)})},
		{"layer-escapes-root", legacy("c.json", cfg(digest.FromBytes(badLayer)), manifest("c.json", "l2/layer.tar"), testutil.Entry{Name: "l2/layer.tar", Body: string(badLayer)})},
		{"layer-not-a-tar", legacy("c.json", cfg(digest.FromString("junk junk")), manifest("c.json", "l2/layer.tar"), testutil.Entry{Name: "l2/layer.tar", Body: "junk junk"})},
		{"symlink-blob", modify(okOCI.Bytes(), func(e *testutil.Entry) bool {
			if strings.HasSuffix(e.Name, layerHex) {
				e.Body, e.Link = "", "/etc/passwd"
			}
			return true
		})},
		{"symlink-layer-outside", legacy(goodCfgName, goodCfg, manifest(goodCfgName, "l2/layer.tar"), testutil.Entry{Name: "l2/layer.tar", Link: "../../../etc/passwd"})},
		{"symlink-layer-absolute", legacy(goodCfgName, goodCfg, manifest(goodCfgName, "l2/layer.tar"), testutil.Entry{Name: "l2/layer.tar", Link: "/etc/passwd"})},
		{"symlink-loop", legacy(goodCfgName, goodCfg, manifest(goodCfgName, "l2/layer.tar"), testutil.Entry{Name: "l2/layer.tar", Link: "../l3/layer.tar"}, testutil.Entry{Name: "l3/layer.tar", Link: "../l2/layer.tar"})},
		{"duplicate-entry", legacy(goodCfgName, goodCfg, manifest(goodCfgName, "l1/layer.tar"), testutil.Entry{Name: "l1/layer.tar", Body: string(layerTar)})},
		{"index-missing-blob", modify(okOCI.Bytes(), func(e *testutil.Entry) bool { return !strings.HasSuffix(e.Name, layerHex) })},
		{"no-manifest", modify(okOCI.Bytes(), func(e *testutil.Entry) bool { return e.Name != "index.json" })},
		{"bad-repotag", legacy(goodCfgName, goodCfg, `[{"Config":"`+goodCfgName+`","RepoTags":["Bad:Name:x"],"Layers":["l1/layer.tar"]}]`)},
		{"second-image-bad", legacy(goodCfgName, goodCfg, `[{"Config":"`+goodCfgName+`","RepoTags":["good:1"],"Layers":["l1/layer.tar"]},{"Config":"`+goodCfgName+`","RepoTags":["good:2"],"Layers":["nope.tar"]}]`)},
	}
	imagesBefore, _ := st.Images()
	namesBefore, _ := st.Names()
	var lines strings.Builder
	for _, c := range cases {
		out, errOut, code := strata(t, root, string(c.in), "load")
		if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q: want one error line", c.name, code, out, errOut)
		}
		imgs, _ := st.Images()
		names, _ := st.Names()
		if len(imgs) != len(imagesBefore) || !reflect.DeepEqual(names, namesBefore) {
			t.Errorf("%s: the store changed: %d images (was %d), names %v", c.name, len(imgs), len(imagesBefore), names)
		}
		fmt.Fprintf(&lines, "%s: %s", c.name, hexRE.ReplaceAllString(errOut, "<hex>"))
	}
	testutil.Golden(t, "testdata/archive/bad-input.golden", lines.String())
	// The bad-input archive of a valid one still loads (the cases above
	// are bad for the reason they name).
	if _, errOut, code := strata(t, root, string(legacy(goodCfgName, goodCfg, manifest(goodCfgName, "l1/layer.tar"))), "load"); code != 0 {
		t.Errorf("the valid legacy archive fails: %s", errOut)
	}
}
