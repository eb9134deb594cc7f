package sbom

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// Status says where a package is: "present", "removed in layer N" or
// "replaced in layer N by VERSION".
func (p *Package) Status() string {
	switch {
	case p.Present():
		return "present"
	case p.ReplacedBy != "":
		return fmt.Sprintf("replaced in layer %d by %s", p.RemovedIn, p.ReplacedBy)
	}
	return fmt.Sprintf("removed in layer %d", p.RemovedIn)
}

// WriteTable writes one line per package, grouped by the layer that added
// it, in history order.
func WriteTable(w io.Writer, s *SBOM) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tNAME\tVERSION\tTYPE\tSTATUS\tPATH")
	for _, p := range s.Packages {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.Layer, p.Name, p.Version, p.Ecosystem, p.Status(), p.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	present := len(s.Present())
	_, err := fmt.Fprintf(w, "\n%d packages in %d layers: %d present, %d removed or replaced but still shipped\n",
		len(s.Packages), len(s.Layers), present, len(s.Packages)-present)
	return err
}

// WriteJSON writes the SBOM in strata's own form (the Package fields).
func WriteJSON(w io.Writer, s *SBOM) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Tool names strata in the documents it writes.
var Tool = "strata"

// created is the documents' creation time: SOURCE_DATE_EPOCH when set, so
// that the same image gives the same document.
func created(now time.Time) time.Time {
	if v, err := strconv.ParseInt(strings.TrimSpace(getenv("SOURCE_DATE_EPOCH")), 10, 64); err == nil {
		return time.Unix(v, 0).UTC()
	}
	return now.UTC()
}

// layerNote tells where a package ships, for the formats' comments.
func layerNote(p *Package, s *SBOM) string {
	return fmt.Sprintf("layer %d (%s), %s, %s", p.Layer, s.Layers[p.Layer].Digest, p.Path, p.Status())
}

var spdxIDChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// WriteSPDX writes an SPDX 2.3 JSON document: the image as the described
// package, each package CONTAINED_BY it, with its purl as an external
// reference and its layer and status in the comment.
func WriteSPDX(w io.Writer, s *SBOM, now time.Time) error {
	name := s.Image
	if name == "" {
		name = s.ImageID
	}
	imageID := common.ElementID("Image")
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://strata.dev/spdx/" + spdxIDChars.ReplaceAllString(name, "-") + "-" + strings.TrimPrefix(s.ImageID, "sha256:"),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: Tool}},
			Created:  created(now).Format(time.RFC3339),
		},
	}
	doc.Packages = append(doc.Packages, &spdx.Package{
		PackageName: name, PackageSPDXIdentifier: imageID, PackageVersion: s.ImageID,
		PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "CONTAINER",
	})
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(imageID)),
		Relationship: common.TypeRelationshipDescribe,
	})
	for i := range s.Packages {
		p := &s.Packages[i]
		id := common.ElementID(fmt.Sprintf("Package-%s-%s-%d", p.Ecosystem, spdxIDChars.ReplaceAllString(p.Name, "-"), i))
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName: p.Name, PackageSPDXIdentifier: id, PackageVersion: p.Version,
			PackageDownloadLocation: "NOASSERTION", PackageSourceInfo: "from " + p.Path,
			PackageComment:            layerNote(p, s),
			PackageExternalReferences: []*spdx.PackageExternalReference{{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: p.PURL}},
		})
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(id)), RefB: common.MakeDocElementID("", string(imageID)),
			Relationship: common.TypeRelationshipContainedBy,
		})
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

// WriteCycloneDX writes a CycloneDX 1.5 JSON BOM: the image as the
// metadata component, one library component per package with strata:
// properties for its layer, path and status.
func WriteCycloneDX(w io.Writer, s *SBOM, now time.Time) error {
	bom := cdx.NewBOM()
	bom.SerialNumber = ""
	name := s.Image
	if name == "" {
		name = s.ImageID
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: created(now).Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: Tool}}},
		Component: &cdx.Component{BOMRef: s.ImageID, Type: cdx.ComponentTypeContainer, Name: name, Version: s.ImageID},
	}
	comps := make([]cdx.Component, 0, len(s.Packages))
	for i := range s.Packages {
		p := &s.Packages[i]
		props := []cdx.Property{
			{Name: "strata:layer", Value: strconv.Itoa(p.Layer)},
			{Name: "strata:layer:digest", Value: s.Layers[p.Layer].Digest},
			{Name: "strata:path", Value: p.Path},
			{Name: "strata:status", Value: p.Status()},
		}
		if p.Source != "" {
			props = append(props, cdx.Property{Name: "strata:source", Value: p.Source + " " + p.SourceVersion})
		}
		comps = append(comps, cdx.Component{
			BOMRef: fmt.Sprintf("%s#%d", p.PURL, i), Type: cdx.ComponentTypeLibrary,
			Name: p.Name, Version: p.Version, PackageURL: p.PURL, Properties: &props,
		})
	}
	bom.Components = &comps
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	return enc.EncodeVersion(bom, cdx.SpecVersion1_5)
}
