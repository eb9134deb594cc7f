package analyze

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			_, im := fx.build(t)
			r, err := analyzePlan(im, Options{UpTo: -1, KeepChanges: true})
			if err != nil {
				t.Fatal(err)
			}
			// The package inventory, in the same pass, changes nothing of
			// the analysis.
			_, im2 := fx.build(t)
			withPkgs, err := analyzePlan(im2, Options{UpTo: -1, KeepChanges: true, Packages: true})
			if err != nil {
				t.Fatal(err)
			}
			for i := range withPkgs.Layers {
				if withPkgs.Layers[i].Packages == nil {
					t.Fatalf("layer %d: no package count", i)
				}
				withPkgs.Layers[i].Packages = nil
			}
			// (The results' trees hash with seeds of their own: the JSON
			// is what compares.)
			j1, _ := json.Marshal(r)
			j2, _ := json.Marshal(withPkgs)
			if string(j1) != string(j2) {
				t.Errorf("the analysis with packages differs:\n%s\n%s", j1, j2)
			}
			if r.SizeBytes != fx.size || r.UserSizeBytes != fx.user {
				t.Errorf("size %d user %d, want %d %d", r.SizeBytes, r.UserSizeBytes, fx.size, fx.user)
			}
			if want := float64(fx.effNum) / float64(fx.effDen); r.Efficiency != want {
				t.Errorf("efficiency %v, want %v", r.Efficiency, want)
			}
			if r.WastedBytes != fx.wasted {
				t.Errorf("wasted bytes %d, want %d", r.WastedBytes, fx.wasted)
			}
			wantPct := float64(fx.wasted) / float64(fx.user)
			if got := float64(r.WastedUserPercent); got != wantPct && !(math.IsNaN(got) && math.IsNaN(wantPct)) {
				t.Errorf("user wasted percent %v, want %v", got, wantPct)
			}
			if r.WastedCopyBytes != fx.copies {
				t.Errorf("wasted copy bytes %d, want %d: %+v", r.WastedCopyBytes, fx.copies, r.WastedCopies)
			}
			if !reflect.DeepEqual(r.MetadataOnlyLayers, fx.metaOnly) {
				t.Errorf("metadata-only layers %v, want %v", r.MetadataOnlyLayers, fx.metaOnly)
			}
			if r.DuplicateBytes != fx.dupBytes {
				t.Errorf("duplicate bytes %d, want %d: %+v", r.DuplicateBytes, fx.dupBytes, r.Duplicates)
			}
			var per []string
			var by []int64
			for _, l := range r.Layers {
				per = append(per, fmt.Sprintf("%d/%d/%d", l.Added.Files, l.Modified.Files, l.Removed.Files))
				by = append(by, l.WastedBytes)
			}
			if !reflect.DeepEqual(per, fx.perLayer) {
				t.Errorf("added/modified/removed per layer %v, want %v", per, fx.perLayer)
			}
			if !reflect.DeepEqual(by, fx.wastedBy) {
				t.Errorf("wasted bytes by layer %v, want %v", by, fx.wastedBy)
			}
		})
	}
}
