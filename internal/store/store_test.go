package store_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func base(t *testing.T) []byte {
	return testutil.Tar(t, testutil.Entry{Name: "bin/"}, testutil.Entry{Name: "bin/sh", Body: strings.Repeat("x", 4096), Mode: 0o755})
}

func blobCount(t *testing.T, st *store.Store) int {
	n := 0
	if err := st.Content.Walk(func(digest.Digest, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestResolve(t *testing.T) {
	st := open(t)
	im := storetest.Image(t, st, nil, "busybox", base(t))
	storetest.Image(t, st, nil, "example.com:5000/team/app:v1", testutil.Tar(t, testutil.Entry{Name: "app", Body: "1"}))
	cases := []struct {
		ref     string
		want    digest.Digest
		wantErr string
	}{
		{"busybox", im.ID, ""},
		{"busybox:latest", im.ID, ""},
		{"docker.io/library/busybox:latest", im.ID, ""},
		{"library/busybox", im.ID, ""},
		{im.ID.String(), im.ID, ""},
		{im.ID.Encoded(), im.ID, ""},
		{im.ID.Encoded()[:12], im.ID, ""},
		{"busybox:1.0", "", "No such image: busybox:1.0"},
		{"example.com:5000/team/app", "", "No such image"},
		{"Bad/Name", "", "No such image"},
		{"", "", "No such image"},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			got, err := st.Resolve(c.ref)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Resolve(%q) = %v, %v; want error %q", c.ref, got, err, c.wantErr)
				}
				return
			}
			if err != nil || got.ID != c.want {
				t.Fatalf("Resolve(%q) = %v, %v; want %s", c.ref, got, err, c.want)
			}
		})
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	st := open(t)
	var ids []digest.Digest
	for i := 0; i < 40; i++ {
		ids = append(ids, storetest.Image(t, st, nil, "", testutil.Tar(t, testutil.Entry{Name: "f", Body: string(rune('a' + i))})).ID)
	}
	// With 40 images, some pair shares its first hex digit.
	seen := map[byte]bool{}
	for _, id := range ids {
		c := id.Encoded()[0]
		if seen[c] {
			_, err := st.Resolve(string(c))
			if err == nil || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("prefix %c: want ambiguous, got %v", c, err)
			}
			return
		}
		seen[c] = true
	}
	t.Fatal("no shared prefix among 40 IDs")
}

func TestRemoveSemantics(t *testing.T) {
	st := open(t)
	im := storetest.Image(t, st, nil, "app:1", base(t))
	for _, n := range []string{"app:2", "other:1"} {
		r, _ := image.ParseTagged(n)
		if err := st.Tag(im.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	// By ID with names in two repositories: refused without force.
	if _, err := st.Remove(im.ID.Encoded()[:12], false); err == nil || !strings.Contains(err.Error(), "multiple repositories") {
		t.Fatalf("rmi by ID with two repositories: %v", err)
	}
	// By name with other names left: untag only.
	rm, err := st.Remove("app:2", false)
	if err != nil || len(rm.Deleted) != 0 || len(rm.Untagged) != 1 || rm.Untagged[0] != "app:2" {
		t.Fatalf("rmi app:2 = %+v, %v", rm, err)
	}
	if _, err := st.Resolve(im.ID.String()); err != nil {
		t.Fatal("image gone after untag:", err)
	}
	rm, err = st.Remove("other:1", false)
	if err != nil || len(rm.Deleted) != 0 {
		t.Fatalf("rmi other:1 = %+v, %v", rm, err)
	}
	// The last name: image deleted, with its layer chain.
	rm, err = st.Remove("app:1", false)
	if err != nil || len(rm.Deleted) != 2 || rm.Deleted[0] != im.ID {
		t.Fatalf("rmi app:1 = %+v, %v", rm, err)
	}
	if _, err := st.Resolve(im.ID.String()); !errors.Is(err, store.ErrNoSuchImage) {
		t.Fatal("image still there:", err)
	}
}

// TestRemoveLastTagOfRepository follows docker 20.10 (recorded with
// localhost:5000/busybox pulled, tagged :v2 and keep:1): untagging a name
// while another tag of its repository remains keeps the repository's
// digest reference; untagging the repository's last tag removes its digest
// references too ("Untagged: localhost:5000/busybox@sha256:..."), even
// though the image keeps other names.
func TestRemoveLastTagOfRepository(t *testing.T) {
	st := open(t)
	im := storetest.Image(t, st, nil, "", base(t))
	for _, n := range []string{"localhost:5000/busybox:latest", "localhost:5000/busybox:v2", "keep:1"} {
		r, _ := image.ParseTagged(n)
		if err := st.Tag(im.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	rd := "localhost:5000/busybox@sha256:" + strings.Repeat("d", 64)
	other := "keep@sha256:" + strings.Repeat("e", 64)
	if err := st.Meta.Update(func(tx *metadata.Tx) error {
		rec := *im
		rec.RepoDigests = []string{rd, other}
		return tx.Put(metadata.BucketImages, im.ID.String(), &rec)
	}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		ref         string
		untagged    []string
		repoDigests []string
	}{
		{"localhost:5000/busybox:latest", []string{"localhost:5000/busybox:latest"}, []string{rd, other}},
		{"localhost:5000/busybox:v2", []string{"localhost:5000/busybox:v2", "localhost:5000/busybox@sha256:" + strings.Repeat("d", 64)}, []string{other}},
	}
	for _, s := range steps {
		rm, err := st.Remove(s.ref, false)
		if err != nil || len(rm.Deleted) != 0 || strings.Join(rm.Untagged, " ") != strings.Join(s.untagged, " ") {
			t.Fatalf("rmi %s = %+v, %v; want untagged %v", s.ref, rm, err, s.untagged)
		}
		got, err := st.Resolve("keep:1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.RepoDigests, " ") != strings.Join(s.repoDigests, " ") {
			t.Errorf("after rmi %s: repo digests %v, want %v", s.ref, got.RepoDigests, s.repoDigests)
		}
	}
}

// TestRemoveByIDNeedsForce follows docker 20.10's rmi of an image ID
// (recorded: two tags of one repository are refused too, "conflict:
// unable to delete 9f66572d4af5 (must be forced) - image is referenced in
// multiple repositories"; a tag with its repository's digest is not).
func TestRemoveByIDNeedsForce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tags        []string
		repoDigests []string
		refused     bool
	}{
		{"one tag", []string{"app:1"}, nil, false},
		{"one tag and its digest", []string{"app:1"}, []string{"app@sha256:" + strings.Repeat("a", 64)}, false},
		{"two tags of one repository", []string{"app:1", "app:2"}, nil, true},
		{"tags of two repositories", []string{"app:1", "other:1"}, nil, true},
		{"a tag and another repository's digest", []string{"app:1"}, []string{"other@sha256:" + strings.Repeat("a", 64)}, true},
		{"digests of one repository", nil, []string{"app@sha256:" + strings.Repeat("a", 64)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			im := storetest.Image(t, st, nil, "", base(t))
			for _, n := range tc.tags {
				r, _ := image.ParseTagged(n)
				if err := st.Tag(im.ID, r); err != nil {
					t.Fatal(err)
				}
			}
			if tc.repoDigests != nil {
				if err := st.Meta.Update(func(tx *metadata.Tx) error {
					rec := *im
					rec.RepoDigests = tc.repoDigests
					return tx.Put(metadata.BucketImages, im.ID.String(), &rec)
				}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := st.Remove(im.ID.Encoded()[:12], false)
			if refused := err != nil && strings.Contains(err.Error(), "(must be forced) - image is referenced in multiple repositories"); refused != tc.refused {
				t.Fatalf("rmi ID: refused %v, want %v (%v)", refused, tc.refused, err)
			}
			if tc.refused {
				rm, err := st.Remove(im.ID.Encoded()[:12], true)
				if err != nil || len(rm.Deleted) == 0 || len(rm.Untagged) != len(tc.tags)+len(tc.repoDigests) {
					t.Fatalf("rmi -f ID = %+v, %v", rm, err)
				}
			}
		})
	}
}

func TestRemoveRefusedForContainer(t *testing.T) {
	st := open(t)
	im := storetest.Image(t, st, nil, "app:1", base(t))
	err := st.Meta.Update(func(tx *metadata.Tx) error {
		return tx.Put(metadata.BucketContainers, "c1", metadata.Roots{Images: []digest.Digest{im.ID}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Remove("app:1", false); err == nil || !strings.Contains(err.Error(), "container") {
		t.Fatalf("rmi of an image in use: %v", err)
	}
	rm, err := st.Remove("app:1", true)
	if err != nil || len(rm.Deleted) != 0 {
		t.Fatalf("rmi -f of an image in use must untag only: %+v %v", rm, err)
	}
	if _, err := st.GC(true); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Fsck(); err != nil || len(r.Problems) > 0 {
		t.Fatalf("fsck after rmi -f of a used image: %+v %v", r, err)
	}
}

// TestRemoveByIDUsedByContainer follows docker 20.10's rmi of an image ID
// that a container uses (recorded): a stopped container's image needs -f
// ("(must be forced) - image is being used by stopped container
// 197507966fd3"); a running container's is refused even with -f ("(cannot
// be forced) - image is being used by running container d744e2b4f2de"),
// and nothing is untagged. Container IDs are shown short.
func TestRemoveByIDUsedByContainer(t *testing.T) {
	ctr := strings.Repeat("c", 64)
	for _, tc := range []struct {
		name    string
		running bool
		force   bool
		wantErr string
	}{
		{"stopped", false, false, "conflict: unable to delete %s (must be forced) - image is being used by stopped container cccccccccccc"},
		{"stopped, forced", false, true, ""},
		{"running", true, false, "conflict: unable to delete %s (cannot be forced) - image is being used by running container cccccccccccc"},
		{"running, forced", true, true, "conflict: unable to delete %s (cannot be forced) - image is being used by running container cccccccccccc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			im := storetest.Image(t, st, nil, "app:1", base(t))
			if err := st.Meta.Update(func(tx *metadata.Tx) error {
				return tx.Put(metadata.BucketContainers, ctr, metadata.Roots{Images: []digest.Digest{im.ID}})
			}); err != nil {
				t.Fatal(err)
			}
			asked := ""
			// Running may read and write the store (a container manager
			// does): it must not be called inside Remove's transaction.
			running := func(id string) bool {
				asked = id
				if err := st.Meta.Update(func(*metadata.Tx) error { return nil }); err != nil {
					t.Error(err)
				}
				return tc.running
			}
			type result struct {
				rm  store.Removal
				err error
			}
			done := make(chan result, 1)
			go func() {
				rm, err := st.RemoveWith(im.ID.Encoded()[:12], store.RemoveOptions{Force: tc.force, Running: running})
				done <- result{rm, err}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("RemoveWith is deadlocked on the store")
			}
			rm, err := res.rm, res.err
			if asked != ctr {
				t.Errorf("Running asked about %q", asked)
			}
			if tc.wantErr != "" {
				if want := fmt.Sprintf(tc.wantErr, im.ID.Encoded()[:12]); err == nil || err.Error() != want {
					t.Fatalf("rmi ID = %v, want %s", err, want)
				}
				if got, err := st.Resolve("app:1"); err != nil || got.ID != im.ID {
					t.Errorf("a refused rmi untagged the image: %v", err)
				}
				return
			}
			// Forced, stopped: the names go, the image stays for its container.
			if err != nil || len(rm.Deleted) != 0 || len(rm.Untagged) != 1 {
				t.Fatalf("rmi -f ID = %+v, %v", rm, err)
			}
			if _, err := st.Image(im.ID); err != nil {
				t.Errorf("the image of a stopped container is gone: %v", err)
			}
		})
	}
}

// Layers are shared: removing one of two images that share a base keeps the
// base's blob and deletes only the other's own layer.
func TestGCKeepsSharedLayers(t *testing.T) {
	st := open(t)
	a := storetest.Image(t, st, nil, "a", base(t))
	b := storetest.Image(t, st, a, "b", testutil.Tar(t, testutil.Entry{Name: "extra", Body: "b"}))
	if len(b.Layers) != 2 || b.Layers[0].Digest != a.Layers[0].Digest {
		t.Fatalf("b does not share a's layer: %+v", b.Layers)
	}
	before := blobCount(t, st) // a: manifest+config+layer; b: manifest+config+layer
	if before != 6 {
		t.Fatalf("want 6 blobs, have %d", before)
	}
	if _, err := st.Remove("b", false); err != nil {
		t.Fatal(err)
	}
	stats, err := st.GC(true)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Blobs != 3 || blobCount(t, st) != 3 {
		t.Fatalf("GC removed %d blobs, %d left; want 3 and 3", stats.Blobs, blobCount(t, st))
	}
	if !st.Content.Has(a.Layers[0].Digest) {
		t.Fatal("shared base layer was deleted")
	}
	if r, _ := st.Fsck(); len(r.Problems) > 0 {
		t.Fatal(r.Problems)
	}
}

// A collection never sweeps while a writer holds the store: the writer's
// blobs are not yet referenced by any image.
func TestGCDefersToWriters(t *testing.T) {
	st := open(t)
	lock, err := st.Writing()
	if err != nil {
		t.Fatal(err)
	}
	rec := storetest.AddLayer(t, st, base(t)) // written, not referenced yet
	stats, err := st.GC(false)
	if err != nil || !stats.Deferred {
		t.Fatalf("GC with a writer running: %+v %v", stats, err)
	}
	if !st.Content.Has(rec.Digest) {
		t.Fatal("GC swept a blob of a running writer")
	}
	lock.Unlock()
	if stats, err := st.GC(false); err != nil || stats.Deferred || stats.Blobs != 1 {
		t.Fatalf("GC after the writer finished: %+v %v", stats, err)
	}
}

func TestPrune(t *testing.T) {
	st := open(t)
	storetest.Image(t, st, nil, "keep", base(t))
	dangling := storetest.Image(t, st, nil, "", testutil.Tar(t, testutil.Entry{Name: "d", Body: "dangling"}))
	res, err := st.Prune(store.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removals) != 1 || res.Removals[0].Deleted[0] != dangling.ID || res.GC.Bytes == 0 {
		t.Fatalf("prune: %+v", res)
	}
	if _, err := st.Resolve("keep"); err != nil {
		t.Fatal(err)
	}
	res, err = st.Prune(store.PruneOptions{All: true})
	if err != nil || len(res.Removals) != 1 {
		t.Fatalf("prune -a: %+v %v", res, err)
	}
	if n := blobCount(t, st); n != 0 {
		t.Fatalf("%d blobs left after prune -a", n)
	}
}

func TestFsckFindsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, st *store.Store, im *metadata.Image)
		want   string
	}{
		{"flipped byte in layer", func(t *testing.T, st *store.Store, im *metadata.Image) {
			p := st.Content.Path(im.Layers[0].Digest)
			os.Chmod(p, 0o644)
			b, _ := os.ReadFile(p)
			b[600] ^= 0xff
			os.WriteFile(p, b, 0o444)
		}, "damaged"},
		{"missing config", func(t *testing.T, st *store.Store, im *metadata.Image) {
			os.Remove(st.Content.Path(im.Config.Digest))
		}, "missing"},
		{"name to missing image", func(t *testing.T, st *store.Store, im *metadata.Image) {
			st.Meta.Update(func(tx *metadata.Tx) error {
				return tx.Put(metadata.BucketNames, "docker.io/library/ghost:latest", digest.FromString("ghost"))
			})
		}, "missing image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := open(t)
			im := storetest.Image(t, st, nil, "app", base(t))
			if r, err := st.Fsck(); err != nil || len(r.Problems) != 0 {
				t.Fatalf("fresh store: %+v %v", r, err)
			}
			c.damage(t, st, im)
			r, err := st.Fsck()
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Problems) == 0 || !strings.Contains(strings.Join(r.Problems, "\n"), c.want) {
				t.Fatalf("fsck problems %q, want one with %q", r.Problems, c.want)
			}
		})
	}
}

// Adding an image whose config disagrees with its layers is refused and
// leaves nothing visible.
func TestAddImageChecksDiffIDs(t *testing.T) {
	st := open(t)
	good := storetest.Image(t, st, nil, "", base(t))
	other := storetest.AddLayer(t, st, testutil.Tar(t, testutil.Entry{Name: "x", Body: "y"}))
	mb, _ := st.Content.ReadAll(good.Manifest.Digest, 1<<20)
	bad := strings.Replace(string(mb), good.Layers[0].Digest.String(), other.Digest.String(), 1)
	md, err := st.PutBytes(good.Manifest.MediaType, []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := st.Images()
	if _, err := st.AddImage(md.Digest, nil, nil); err == nil || !strings.Contains(err.Error(), "unpacks to") {
		t.Fatalf("AddImage with a wrong layer: %v", err)
	}
	after, _ := st.Images()
	if len(after) != len(before) {
		t.Fatal("a refused image became visible")
	}
}
