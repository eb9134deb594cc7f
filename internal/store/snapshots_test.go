package store_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func TestSnapshotterKeepsTheRecordedDriver(t *testing.T) {
	st := open(t)
	if _, err := st.Snapshotter("vfs"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		want, got string
		ok        bool
	}{{"", "vfs", true}, {"vfs", "vfs", true}, {"overlay", "", false}, {"zfs", "", false}} {
		sn, err := st.Snapshotter(tc.want)
		if (err == nil) != tc.ok {
			t.Errorf("Snapshotter(%q): %v", tc.want, err)
			continue
		}
		if tc.ok && sn.Driver() != tc.got {
			t.Errorf("Snapshotter(%q) is %s, want %s", tc.want, sn.Driver(), tc.got)
		}
	}
}

// The store's GC keeps the snapshots its roots name (every chain of every
// image, a container record's snapshot, a live kept layer's) with their
// parents, removes all others, and unmounts and removes what killed
// builds left in build/tmp.
func TestGCCollectsSnapshots(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mounts)")
	}
	for _, driver := range snapshot.Drivers {
		t.Run(driver, func(t *testing.T) { testGCCollectsSnapshots(t, driver) })
	}
}

func unpack(t *testing.T, st *store.Store, sn snapshot.Snapshotter, im *metadata.Image) string {
	t.Helper()
	var ls []snapshot.Layer
	for _, l := range im.Layers {
		ls = append(ls, snapshot.Layer{Blob: l.Digest, DiffID: l.DiffID})
	}
	top, err := snapshot.Unpack(context.Background(), sn, st.OpenBlob, ls)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func testGCCollectsSnapshots(t *testing.T, driver string) {
	st := open(t)
	sn, err := st.Snapshotter(driver)
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.Image(t, st, nil, "a", base(t))
	b := storetest.Image(t, st, a, "b", testutil.Tar(t, testutil.Entry{Name: "extra", Body: "b"}))
	aTop, bTop := unpack(t, st, sn, a), unpack(t, st, sn, b)
	for _, s := range []struct{ key, parent string }{{"ctr", aTop}, {"orphan", aTop}, {"kept-work", aTop}} {
		if _, err := sn.Prepare(s.key, s.parent); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sn.View("view", aTop); err != nil {
		t.Fatal(err)
	}
	// A layer kept only as its snapshot, alive through a cache record.
	d := digest.FromString("the kept layer's tar")
	if err := sn.Commit("kept", "kept-work"); err != nil {
		t.Fatal(err)
	}
	l := metadata.Layer{Digest: d, DiffID: d, MediaType: "application/vnd.oci.image.layer.v1.tar"}
	if err := st.AddSnapBlob(l, metadata.SnapBlob{Driver: driver, Snapshot: "kept"}); err != nil {
		t.Fatal(err)
	}
	err = st.Meta.Update(func(tx *metadata.Tx) error {
		if err := tx.Put(metadata.BucketContainers, "c1", metadata.Roots{Images: []digest.Digest{a.ID}, Snapshot: "ctr"}); err != nil {
			return err
		}
		return tx.Put(metadata.BucketCache, "step", metadata.Roots{Blobs: []digest.Digest{d}})
	})
	if err != nil {
		t.Fatal(err)
	}
	// What a killed build leaves: its work dir with a mount in it.
	rootfs := filepath.Join(st.Path(store.BuildTmp), "build-1", "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (snapshot.Mount{Type: "bind", Source: t.TempDir(), Options: []string{"rbind"}}).Mount(rootfs); err != nil {
		t.Fatal(err)
	}
	defer snapshot.Unmount(rootfs)
	if _, err := st.Remove("b", false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GC(true); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := sn.Walk(func(in snapshot.Info) error { left = append(left, in.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{aTop, "ctr", "kept"}
	slices.Sort(want)
	if !reflect.DeepEqual(left, want) {
		t.Errorf("snapshots after GC: %q, want %q (b's %s gone)", left, want, bTop)
	}
	if snapshot.Mounted(rootfs) {
		t.Error("a killed build's mount is still there")
	}
	if ents, err := os.ReadDir(st.Path(store.BuildTmp)); err != nil || len(ents) != 0 {
		t.Errorf("build/tmp after GC: %v %v", ents, err)
	}
}
