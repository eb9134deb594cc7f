package metadata

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestImageFigures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		im      Image
		size    int64
		diffIDs []digest.Digest
		blobs   []digest.Digest
	}{
		{"two layers", img, 40, []digest.Digest{l1.DiffID, l2.DiffID},
			[]digest.Digest{img.Manifest.Digest, img.Config.Digest, l1.Digest, l2.Digest}},
		{"no layers", Image{Manifest: img.Manifest, Config: img.Config}, 0, []digest.Digest{},
			[]digest.Digest{img.Manifest.Digest, img.Config.Digest}},
	} {
		if got := tc.im.Size(); got != tc.size {
			t.Errorf("%s: Size %d, want %d", tc.name, got, tc.size)
		}
		if got := tc.im.DiffIDs(); !reflect.DeepEqual(got, tc.diffIDs) {
			t.Errorf("%s: DiffIDs %v, want %v", tc.name, got, tc.diffIDs)
		}
		if got := tc.im.Blobs(); !reflect.DeepEqual(got, tc.blobs) {
			t.Errorf("%s: Blobs %v, want %v", tc.name, got, tc.blobs)
		}
	}
}

// TestLayerUnpacked: a record written before ContentSize existed shows the
// tar's size; one written since shows what the layer unpacks to, 0
// included.
func TestLayerUnpacked(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want int64
	}{
		{"old record", `{"digest":"sha256:aa","uncompressedSize":2560}`, 2560},
		{"directories only", `{"digest":"sha256:aa","uncompressedSize":2560,"contentSize":0}`, 0},
		{"files", `{"digest":"sha256:aa","uncompressedSize":2560,"contentSize":30}`, 30},
	} {
		var l Layer
		if err := json.Unmarshal([]byte(tc.raw), &l); err != nil {
			t.Fatal(err)
		}
		if got := l.Unpacked(); got != tc.want || l.UncompressedSize != 2560 {
			t.Errorf("%s: Unpacked %d (tar %d), want %d", tc.name, got, l.UncompressedSize, tc.want)
		}
	}
}
