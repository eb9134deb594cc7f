package builder

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// readBlob reads a blob through the store to its end and returns its digest.
func readBlob(t *testing.T, st *store.Store, d digest.Digest) (digest.Digest, error) {
	t.Helper()
	rc, err := st.OpenBlob(d)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	dg := digest.Canonical.Digester()
	_, err = io.Copy(dg.Hash(), rc)
	return dg.Digest(), err
}

// TestKeptRunLayers: with KeepRunLayers a RUN layer has no blob file; it
// is its snapshot, written as the same tar whenever it is read (save, push,
// analysis), and it lives as long as something uses the layer.
func TestKeptRunLayers(t *testing.T) {
	if !canRun() {
		t.Skip("RUN needs root, overlay and runc or crun")
	}
	for _, driver := range snapshot.Drivers {
		t.Run(driver, func(t *testing.T) { testKeptRunLayers(t, driver) })
	}
}

func testKeptRunLayers(t *testing.T, driver string) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Snapshotter(driver); err != nil {
		t.Fatal(err)
	}
	loadBusybox(t, st)
	df := []byte(`FROM localhost:5000/busybox:latest
RUN mkdir -p /w/keep /w/del /w/opaque && echo 1 > /w/keep/f && echo 2 > /w/del/f && echo 3 > /w/opaque/f && ln /w/keep/f /w/hl && head -c 300000 /dev/urandom > /w/big
RUN rm -rf /w/del /w/opaque /bin/vi && mkdir /w/opaque && echo new > /w/opaque/only && chmod 600 /w/keep/f
COPY a /a
`)
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "a"), []byte("a"), 0o644)
	res, err := Build(context.Background(), st, Options{ContextDir: ctxDir, Dockerfile: df, Compression: layer.Gzip, KeepRunLayers: true})
	if err != nil {
		t.Fatal(err)
	}
	im, err := st.Image(res.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Layers) != 4 {
		t.Fatalf("%d layers, want 4", len(im.Layers))
	}
	sbs, err := st.SnapBlobs()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range im.Layers {
		_, kept := sbs[l.Digest]
		if want := i == 1 || i == 2; kept != want {
			t.Errorf("layer %d kept as snapshot: %v, want %v", i, kept, want)
		}
		if kept {
			if st.Content.Has(l.Digest) {
				t.Errorf("layer %d: kept layer has a blob file too", i)
			}
			if l.Digest != l.DiffID || l.MediaType != store.LayerMediaType(layer.Uncompressed) {
				t.Errorf("layer %d: kept layer is %s %s, want an uncompressed tar", i, l.MediaType, l.Digest)
			}
		}
		if got, err := readBlob(t, st, l.Digest); err != nil || got != l.Digest {
			t.Errorf("layer %d reads as %s (%v), want %s", i, got, err, l.Digest)
		}
	}
	if rep, err := st.Fsck(); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("fsck: %v %v", err, rep.Problems)
	}

	// save, then load into another store: the same image ID, so the
	// tars written from the snapshots are the ones the diffIDs name.
	var buf bytes.Buffer
	src, err := st.ImageSource(im, "")
	if err != nil {
		t.Fatal(err)
	}
	err = archive.Save(context.Background(), &buf, []archive.SaveImage{{Source: src}}, archive.DockerArchive)
	src.Close() // it holds the store's lock, which the GC below waits for
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lr, err := archive.Load(st2, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Images) != 1 || lr.Images[0].ID != res.ImageID {
		t.Fatalf("loaded %+v, want image %s", lr.Images, res.ImageID)
	}

	// A snapshot changed behind the store's back is caught when read.
	kept := im.Layers[2]
	dir := snapshotDir(t, st, sbs[kept.Digest])
	only := filepath.Join(dir, "w", "opaque", "only")
	fi, err := os.Lstat(only)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(only, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	// As a later second would: the restore below must put the time back.
	os.Chtimes(only, fi.ModTime().Add(time.Hour), fi.ModTime().Add(time.Hour))
	if _, err := readBlob(t, st, kept.Digest); err == nil || !strings.Contains(err.Error(), "has changed") {
		t.Errorf("reading a tampered kept layer: %v, want a digest error", err)
	}
	if rep, _ := st.Fsck(); len(rep.Problems) == 0 {
		t.Error("fsck found nothing wrong with a tampered kept layer")
	}
	// Restored, content and time (the tar holds the time).
	os.WriteFile(only, []byte("new\n"), 0o644)
	os.Chtimes(only, fi.ModTime(), fi.ModTime())
	if _, err := readBlob(t, st, kept.Digest); err != nil {
		t.Fatalf("restored: %v", err)
	}

	// The image removed, the build cache still holds the layers: their
	// snapshots stay, whatever garbage collection runs.
	if _, err := st.Remove(res.ImageID.String(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GC(true); err != nil {
		t.Fatal(err)
	}
	if _, err := readBlob(t, st, kept.Digest); err != nil {
		t.Fatalf("kept layer of a cache record after rmi: %v", err)
	}
	// No image uses the cache's layers now: all of them are reclaimable.
	want := im.Layers[1].Size + im.Layers[2].Size
	if u, err := DiskUsage(st); err != nil || u.Records == 0 || u.Reclaimable != u.Size || u.Size < want {
		t.Errorf("cache usage %+v, %v; want records whose %d bytes or more are all reclaimable", u, err, want)
	}
	// The cache pruned too: the records and snapshots go.
	pr, err := Prune(st, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Records == 0 || pr.Bytes < want {
		t.Errorf("prune removed %d records and %d bytes, want some records and at least the kept layers' %d", pr.Records, pr.Bytes, want)
	}
	if sbs, _ := st.SnapBlobs(); len(sbs) != 0 {
		t.Errorf("%d kept layers left after prune", len(sbs))
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("kept layer's snapshot left after prune: %v", err)
	}
	if rep, err := st.Fsck(); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("fsck: %v %v", err, rep.Problems)
	}
}

// snapshotDir is the directory of a kept layer's snapshot files.
func snapshotDir(t *testing.T, st *store.Store, sb metadata.SnapBlob) string {
	t.Helper()
	dir := filepath.Join(st.Root, "snapshots", sb.Driver, "s", strings.ReplaceAll(sb.Snapshot, ":", "="), "fs")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
