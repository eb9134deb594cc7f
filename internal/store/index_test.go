package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func platformTar(t *testing.T, p string) []byte {
	return testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/platform", Body: p + "\n"})
}

// multi stores NAME as an index of an amd64 and an arm64 image that share
// a base layer, and returns the index and both images.
func multi(t *testing.T, st *store.Store, name string) (*metadata.Index, *metadata.Image, *metadata.Image) {
	t.Helper()
	amd := storetest.PlatformImage(t, st, "", "linux/amd64", base(t), platformTar(t, "amd64"))
	arm := storetest.PlatformImage(t, st, "", "linux/arm64", base(t), platformTar(t, "arm64"))
	var names []image.Reference
	if name != "" {
		r, err := image.ParseTagged(name)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, r)
	}
	ix, err := st.PutIndex([]*metadata.Image{amd, arm}, names)
	if err != nil {
		t.Fatal(err)
	}
	return ix, amd, arm
}

func TestIndexResolve(t *testing.T) {
	st := open(t)
	ix, amd, arm := multi(t, st, "multi:1")
	if len(ix.Entries) != 2 || ix.Entries[1].Image != arm.ID {
		t.Fatalf("entries %+v", ix.Entries)
	}
	for _, ref := range []string{"multi:1", ix.Digest.String(), ix.Digest.Encoded()[:12]} {
		got, err := st.Index(ref)
		if err != nil || got.Digest != ix.Digest {
			t.Errorf("Index(%s): %v %v", ref, got, err)
		}
	}
	if _, err := st.Index(amd.ID.String()); !errdefs.IsNotFound(err) {
		t.Errorf("an image is no index: %v", err)
	}
	host := image.HostPlatform()
	want := amd
	if host.Architecture == "arm64" {
		want = arm
	}
	if im, err := st.Resolve("multi:1"); err != nil || im.ID != want.ID {
		t.Errorf("Resolve picks %v (%v), want this machine's %s", im, err, want.ID)
	}
	for _, c := range []struct {
		platform string
		want     digest.Digest
		err      string
	}{
		{"linux/arm64", arm.ID, ""},
		{"linux/arm64/v8", arm.ID, ""},
		{"linux/amd64", amd.ID, ""},
		{"linux/s390x", "", "multi:1: no image for linux/s390x in this multi-platform image (it has: linux/amd64, linux/arm64)"},
	} {
		p, _ := image.ParsePlatform(c.platform)
		im, err := st.ResolvePlatform("multi:1", p)
		if c.err != "" {
			if err == nil || err.Error() != c.err || !errdefs.IsNotFound(err) {
				t.Errorf("%s: %v, want %q", c.platform, err, c.err)
			}
			continue
		}
		if err != nil || im.ID != c.want {
			t.Errorf("%s: %v %v", c.platform, im, err)
		}
	}
	p, _ := image.ParsePlatform("linux/s390x")
	if _, err := st.ResolvePlatform(arm.ID.String(), p); err == nil || !strings.Contains(err.Error(), "does not match the specified platform") {
		t.Errorf("an arm64 image for s390x: %v", err)
	}
}

func TestIndexRemoveAndGC(t *testing.T) {
	st := open(t)
	ix, amd, arm := multi(t, st, "multi:1")
	other := storetest.Image(t, st, nil, "other:1", base(t))
	if err := st.Tag(ix.Digest, mustTagged(t, "multi:2")); err != nil {
		t.Fatal(err)
	}
	// GC keeps what the index holds.
	if _, err := st.GC(true); err != nil {
		t.Fatal(err)
	}
	if rep, err := st.Fsck(); err != nil || len(rep.Problems) != 0 || rep.Unreferenced != 0 {
		t.Fatalf("fsck: %+v %v", rep, err)
	}
	// An entry cannot be removed from under its index.
	if _, err := st.Remove(arm.ID.String(), true); err == nil || !strings.Contains(err.Error(), "linux/arm64 entry of a multi-platform image") {
		t.Errorf("rmi of an entry: %v", err)
	}
	// Dangling-image prune leaves a named index's entries.
	if res, err := st.Prune(store.PruneOptions{}); err != nil || len(res.Removals) != 0 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	rm, err := st.Remove("multi:2", false)
	if err != nil || len(rm.Deleted) != 0 || strings.Join(rm.Untagged, ",") != "multi:2" {
		t.Fatalf("rmi multi:2 with multi:1 left: %+v %v", rm, err)
	}
	rm, err = st.Remove("multi:1", false)
	if err != nil {
		t.Fatal(err)
	}
	// The index, both images, each image's own layer; not the shared
	// base, which other:1 has.
	if len(rm.Deleted) != 5 || rm.Deleted[0] != ix.Digest {
		t.Errorf("rmi multi:1 deleted %v", rm.Deleted)
	}
	for _, id := range []digest.Digest{amd.ID, arm.ID} {
		if _, err := st.Image(id); !errors.Is(err, store.ErrNoSuchImage) {
			t.Errorf("image %s left: %v", id, err)
		}
	}
	if _, err := st.GC(true); err != nil {
		t.Fatal(err)
	}
	if rep, err := st.Fsck(); err != nil || len(rep.Problems) != 0 || rep.Images != 1 {
		t.Fatalf("fsck after rmi: %+v %v", rep, err)
	}
	if im, err := st.Resolve("other:1"); err != nil || im.ID != other.ID {
		t.Errorf("other:1: %v", err)
	}
}

// TestIndexEntryNamed: an entry that also has a name of its own stays
// when the index goes; an unnamed index is pruned with its entries.
func TestIndexEntryNamed(t *testing.T) {
	st := open(t)
	ix, amd, arm := multi(t, st, "multi:1")
	if err := st.Tag(amd.ID, mustTagged(t, "amd:1")); err != nil {
		t.Fatal(err)
	}
	rm, err := st.Remove(ix.Digest.Encoded()[:12], false)
	if err != nil {
		t.Fatal(err)
	}
	if got := rm.Deleted; len(got) != 3 || got[1] != arm.ID {
		t.Errorf("deleted %v", got)
	}
	if _, err := st.Resolve("amd:1"); err != nil {
		t.Error(err)
	}
	ix2, _, _ := multi(t, st, "")
	res, err := st.Prune(store.PruneOptions{})
	if err != nil || len(res.Removals) != 1 || res.Removals[0].Deleted[0] != ix2.Digest {
		t.Fatalf("prune of an unnamed index: %+v %v", res, err)
	}
}

func mustTagged(t *testing.T, s string) image.Reference {
	r, err := image.ParseTagged(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIndexPruneAllInUse: prune -a keeps a multi-platform image one of
// whose platforms a container uses, name and all, and removes one no
// container uses.
func TestIndexPruneAllInUse(t *testing.T) {
	st := open(t)
	_, _, arm := multi(t, st, "used:1")
	other := storetest.PlatformImage(t, st, "", "linux/riscv64", platformTar(t, "riscv64"))
	free, err := st.PutIndex([]*metadata.Image{other}, []image.Reference{mustTagged(t, "free:1")})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Meta.Update(func(tx *metadata.Tx) error {
		return tx.Put(metadata.BucketContainers, "c1", metadata.Roots{Images: []digest.Digest{arm.ID}})
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Prune(store.PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removals) != 1 || res.Removals[0].Deleted[0] != free.Digest {
		t.Errorf("prune -a removed %+v", res.Removals)
	}
	if im, err := st.Resolve("used:1"); err != nil || im == nil {
		t.Errorf("used:1 is gone: %v", err)
	}
}
