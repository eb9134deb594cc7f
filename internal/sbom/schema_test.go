package sbom

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-dev/strata/internal/testutil"
)

// compileSchema compiles testdata/schema/FILE with the other files of
// that directory registered at the URLs their $refs name.
func compileSchema(t *testing.T, file string, refs map[string]string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, f := range refs {
		r, err := os.Open("testdata/schema/" + f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("testdata/schema/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDocumentsMatchSchemas validates the SPDX 2.3 and CycloneDX 1.5
// documents of an image with packages of every ecosystem, removed ones
// too, against the formats' published JSON schemas.
func TestDocumentsMatchSchemas(t *testing.T) {
	layers := layered(t)
	rpmLayer := testutil.Tar(t, testutil.File("usr/lib/sysimage/rpm/Packages.db", string(gunzipFixture(t, "sle15-bci-Packages.db.gz"))))
	layers = append(layers, LayerReader{Digest: "sha256:layer4",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(rpmLayer)), nil }})
	s, err := FromLayers(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	s.Image, s.ImageID = "registry.example/app:1", "sha256:0123456789abcdef"
	for _, tc := range []struct {
		name   string
		schema *jsonschema.Schema
		write  func(io.Writer) error
	}{
		{"spdx-2.3", compileSchema(t, "spdx-2.3.schema.json", nil),
			func(w io.Writer) error { return WriteSPDX(w, s, testutil.ModTime) }},
		{"cyclonedx-1.5", compileSchema(t, "bom-1.5.schema.json", map[string]string{
			"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
			"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
		}), func(w io.Writer) error { return WriteCycloneDX(w, s, testutil.ModTime) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(&b)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.schema.Validate(doc); err != nil {
				t.Errorf("not valid: %v", err)
			}
			// The schema does reject: a document without its packages'
			// required fields fails.
			if tc.schema.Validate(map[string]any{"spdxVersion": 2.3, "bomFormat": "SPDX", "specVersion": 1.5}) == nil {
				t.Error("the schema accepts a broken document")
			}
		})
	}
}
