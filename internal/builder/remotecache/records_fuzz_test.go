package remotecache

import (
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzRecords: a cache config from a registry (--cache-from) of any
// content gives records or an error, and every record it gives names a
// layer of the manifest with its size and a key that hashes to its name.
func FuzzRecords(f *testing.F) {
	l := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("l"), Size: 3}
	f.Add([]byte(`{"version":1,"records":[{"keyDigest":"x","layer":{"digest":"`+l.Digest.String()+`","size":3,"diffID":"sha256:`+digest.FromString("d").Encoded()+`"}}]}`), int64(3))
	f.Add([]byte(`{"version":2}`), int64(0))
	f.Add([]byte(`{"version":1,"records":[{}]}`), int64(-1))
	f.Fuzz(func(t *testing.T, raw []byte, size int64) {
		layers := []ocispec.Descriptor{l, {Digest: digest.FromString("m"), Size: size}}
		recs, err := records(raw, layers)
		if err != nil {
			return
		}
		for kd, r := range recs {
			if r.Key.Digest() != kd {
				b, _ := json.Marshal(r.Key)
				t.Fatalf("record %s has key %s", kd, b)
			}
			if r.Layer.Digest != layers[0].Digest && r.Layer.Digest != layers[1].Digest {
				t.Fatalf("record %s names layer %s, not in the manifest", kd, r.Layer.Digest)
			}
		}
	})
}
