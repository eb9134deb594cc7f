package analyze

import (
	"encoding/json"
	"math"

	"github.com/opencontainers/go-digest"
)

// Options tune an analysis.
type Options struct {
	// KeepChanges records every path each layer changes in LayerResult.Changes
	// (for trees, the interactive view and the HTML page). Without it the
	// memory per layer is counters only.
	KeepChanges bool
	// UpTo stops after layer UpTo (0-based) when >= 0: --tree --layer N
	// needs the image only up to N.
	UpTo int
	// Packages counts the packages each layer adds (LayerResult.Packages):
	// internal/sbom reads the files it wants as the analysis walks each
	// layer, in the same pass.
	Packages bool
}

// Status is what a layer did to a path.
type Status uint8

const (
	Unchanged Status = iota
	Added
	Modified
	Removed
)

func (s Status) String() string {
	return [...]string{"unchanged", "added", "modified", "removed"}[s]
}

// MarshalText makes statuses words in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Count is a number of files and their bytes.
type Count struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

func (c *Count) add(size int64) { c.Files++; c.Bytes += size }

// Change is one path a layer added, modified or removed.
type Change struct {
	Path   string `json:"path"`
	Status Status `json:"status"`
	Size   int64  `json:"size"`
	Dir    bool   `json:"dir,omitempty"`
	// MetadataOnly: the content is the same as the copy it replaces; only
	// mode, owner or times changed, yet the whole file ships again.
	MetadataOnly bool `json:"metadataOnly,omitempty"`
}

// LayerResult is what one layer does. Counts are of non-directory entries:
// a directory listed again in a layer is a new mtime, not new content.
type LayerResult struct {
	Index       int           `json:"index"`
	Digest      digest.Digest `json:"digest"`
	DiffID      digest.Digest `json:"diffID,omitempty"`
	MediaType   string        `json:"mediaType,omitempty"`
	BlobSize    int64         `json:"blobSize"` // bytes of the (compressed) blob
	TarSize     int64         `json:"tarSize"`  // bytes of the uncompressed tar
	Size        int64         `json:"size"`     // dive's layer size: the sum of its entries' sizes
	Instruction string        `json:"instruction"`
	Entries     int64         `json:"entries"`
	Added       Count         `json:"added"`
	Modified    Count         `json:"modified"`
	Removed     Count         `json:"removed"`
	// MetadataOnly counts the files this layer rewrote with unchanged
	// content (chmod, chown, touch of lower files): each is a full copy.
	MetadataOnly Count `json:"metadataOnly"`
	// OnlyMetadata: every file change of the layer is a metadata-only copy.
	OnlyMetadata bool `json:"onlyMetadata"`
	// WastedBytes are bytes this layer wrote that a later layer overwrote or
	// removed: they ship but are never seen.
	WastedBytes int64 `json:"wastedBytes"`
	// Packages is the number of packages (strata sbom's) the layer adds;
	// nil unless Options.Packages.
	Packages *int     `json:"packages,omitempty"`
	Changes  []Change `json:"changes,omitempty"`
	// Problem is the first entry that the store's entry rules refuse
	// (layer.EntryChecker): such a layer is refused when it enters.
	Problem string `json:"problem,omitempty"`
}

// Inefficiency is a path dive reports: found in several layers (or
// removed), with the bytes of all its versions.
type Inefficiency struct {
	Path  string `json:"path"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// WastedCopy is one copy of a path that ships in the image but is hidden:
// written by one layer, overwritten or removed by a later one.
type WastedCopy struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	WrittenBy  int    `json:"writtenBy"`
	ReplacedBy int    `json:"replacedBy"`
	// How: "overwritten", "removed", or "metadata-only" (overwritten by the
	// same content with other mode, owner or times).
	How string `json:"how"`
}

// Copy is one occurrence of some content.
type Copy struct {
	Path  string `json:"path"`
	Layer int    `json:"layer"`
}

// Duplicate is a content shipped by several layers.
type Duplicate struct {
	Size        int64  `json:"size"`
	Copies      []Copy `json:"copies"`
	WastedBytes int64  `json:"wastedBytes"` // size x (copies - 1)
}

// Ratio is a float that encodes as null when it is not finite (dive's user
// wasted percent divides by zero for a one-layer image).
type Ratio float64

// MarshalJSON writes null for NaN and infinities, which JSON lacks.
func (r Ratio) MarshalJSON() ([]byte, error) {
	f := float64(r)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// CIReport is the verdict of the CI rules.
type CIReport struct {
	Rules []RuleResult `json:"rules"`
	Pass  bool         `json:"pass"`
}

// Result is the analysis of an image.
type Result struct {
	Image  string        `json:"image"`
	Layers []LayerResult `json:"layers"`

	// dive's figures, computed as dive computes them.
	SizeBytes         int64          `json:"sizeBytes"`
	UserSizeBytes     int64          `json:"userSizeBytes"` // all layers but the first
	Efficiency        float64        `json:"efficiency"`
	WastedBytes       int64          `json:"wastedBytes"`
	WastedUserPercent Ratio          `json:"wastedUserPercent"`
	Inefficiencies    []Inefficiency `json:"inefficientFiles"`

	// What dive does not tell.
	WastedCopies       []WastedCopy `json:"wastedCopies"`
	WastedCopyBytes    int64        `json:"wastedCopyBytes"`
	MetadataOnlyLayers []int        `json:"metadataOnlyLayers"`
	Duplicates         []Duplicate  `json:"duplicates"`
	DuplicateBytes     int64        `json:"duplicateBytes"`

	// Problems: one line per layer with an entry the store refuses.
	Problems []string `json:"problems,omitempty"`

	// CI is the verdict of --ci.
	CI *CIReport `json:"ci,omitempty"`

	tree *tree // final state, for trees
	upTo int
}
