package metadata

import (
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
		{"two layers", img, 50, []digest.Digest{l1.DiffID, l2.DiffID},
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
