package store_test

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestWriteLayer(t *testing.T) {
	tarball := base(t)
	good := digest.FromBytes(tarball)
	tests := []struct {
		name      string
		want      digest.Digest
		size      int64
		mediaType string
		ok        bool
		wantType  string
	}{
		{"unknown digest and size", "", -1, "", true, ocispec.MediaTypeImageLayer},
		{"known digest, type given", good, int64(len(tarball)), ocispec.MediaTypeImageLayerGzip, true, ocispec.MediaTypeImageLayerGzip},
		{"wrong digest", digest.FromString("other"), -1, "", false, ""},
		{"wrong size", good, int64(len(tarball)) + 1, "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			rec, err := st.WriteLayer(bytes.NewReader(tarball), tc.want, tc.size, tc.mediaType)
			if !tc.ok {
				if err == nil {
					t.Fatal("a layer that is not what was asked for was stored")
				}
				if n := blobCount(t, st); n != 0 {
					t.Fatalf("%d blobs left after a refused layer", n)
				}
				if recs, _ := st.LayerRecords(); len(recs) != 0 {
					t.Fatalf("layer records left after a refused layer: %v", recs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Digest != good || rec.DiffID != good || rec.MediaType != tc.wantType || rec.Size != int64(len(tarball)) {
				t.Fatalf("record %+v", rec)
			}
			recs, err := st.LayerRecords()
			if err != nil || recs[good] != rec {
				t.Fatalf("LayerRecords = %v, %v; want the written record", recs, err)
			}
			if n, err := st.BlobSize(good); err != nil || n != int64(len(tarball)) {
				t.Fatalf("BlobSize = %d, %v", n, err)
			}
		})
	}
}
