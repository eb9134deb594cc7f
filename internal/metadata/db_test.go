package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-dev/strata/internal/errdefs"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

func openDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

var (
	created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l1      = Layer{Digest: digest.FromString("blob1"), DiffID: digest.FromString("tar1"), Size: 10, UncompressedSize: 30, ContentSize: 28, MediaType: ocispec.MediaTypeImageLayerGzip}
	l2      = Layer{Digest: digest.FromString("tar2"), DiffID: digest.FromString("tar2"), Size: 20, UncompressedSize: 20, ContentSize: 12, MediaType: ocispec.MediaTypeImageLayer}
	img     = Image{
		ID:          digest.FromString("config"),
		Manifest:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("manifest"), Size: 400},
		Config:      ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("config"), Size: 300},
		Layers:      []Layer{l1, l2},
		RepoDigests: []string{"docker.io/library/busybox@" + digest.FromString("manifest").String()},
		Created:     created,
		Added:       created.Add(time.Hour),
		LastTagTime: created.Add(2 * time.Hour),
		Parent:      digest.FromString("parent"),
	}
)

// TestRecordsRoundTrip: every kind of record comes back from its bucket
// as it was put, in a later transaction.
func TestRecordsRoundTrip(t *testing.T) {
	db := openDB(t)
	for _, tc := range []struct {
		bucket, key string
		put         any
		get         func() any // a fresh value to decode into
	}{
		{BucketImages, img.ID.String(), &img, func() any { return new(Image) }},
		{BucketNames, "docker.io/library/busybox:latest", img.ID.String(), func() any { return new(string) }},
		{BucketLayers, l1.Digest.String(), &l1, func() any { return new(Layer) }},
		{BucketSnapBlobs, l2.Digest.String(), &SnapBlob{Driver: "overlay", Snapshot: "sha256:chain", Size: 20, Exclude: []string{"/proc", "/dev"}}, func() any { return new(SnapBlob) }},
		{BucketContainers, "c1", &Roots{Images: []digest.Digest{img.ID}}, func() any { return new(Roots) }},
		{BucketCache, "key", &Roots{Blobs: []digest.Digest{l1.Digest, l2.Digest}}, func() any { return new(Roots) }},
		{BucketLeases, "lease", &Roots{Blobs: []digest.Digest{l1.Digest}, Images: []digest.Digest{img.ID}}, func() any { return new(Roots) }},
		{BucketSettings, "driver", "overlay", func() any { return new(string) }},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			if err := db.Update(func(tx *Tx) error { return tx.Put(tc.bucket, tc.key, tc.put) }); err != nil {
				t.Fatal(err)
			}
			got := tc.get()
			if err := db.View(func(tx *Tx) error {
				if !tx.Has(tc.bucket, tc.key) {
					t.Errorf("Has(%s, %s) = false after Put", tc.bucket, tc.key)
				}
				return tx.Get(tc.bucket, tc.key, got)
			}); err != nil {
				t.Fatal(err)
			}
			want := tc.put
			if s, ok := want.(string); ok {
				want = &s
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestOpen: a new database has every bucket, and opening a complete one
// again writes nothing (a fully cached build must not fsync).
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error {
		for _, b := range allBuckets {
			if err := tx.ForEach(b, func(string, []byte) error { return fmt.Errorf("new bucket %s has records", b) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("opening a complete database again wrote to it")
	}
}

// TestOpenAddsMissingBuckets: a database written before a bucket existed
// (here: all of them) gets them when opened.
func TestOpenAddsMissingBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte(BucketImages))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *Tx) error { return tx.ForEach(BucketSnapBlobs, func(string, []byte) error { return nil }) }); err != nil {
		t.Fatalf("bucket not added: %v", err)
	}
}

// TestMissing: what each call does with a key or a bucket that is not there.
func TestMissing(t *testing.T) {
	db := openDB(t)
	err := db.Update(func(tx *Tx) error {
		var im Image
		err := tx.Get(BucketImages, "sha256:nope", &im)
		if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "images sha256:nope") {
			t.Errorf("Get of a missing key: %v, want ErrNotFound naming bucket and key", err)
		}
		if tx.Has(BucketImages, "sha256:nope") {
			t.Error("Has of a missing key")
		}
		if err := tx.Delete(BucketImages, "sha256:nope"); err != nil {
			t.Errorf("Delete of a missing key: %v", err)
		}
		for name, call := range map[string]func() error{
			"Get":     func() error { return tx.Get("nobucket", "k", &im) },
			"Put":     func() error { return tx.Put("nobucket", "k", 1) },
			"Delete":  func() error { return tx.Delete("nobucket", "k") },
			"ForEach": func() error { return tx.ForEach("nobucket", func(string, []byte) error { return nil }) },
		} {
			if err := call(); err == nil || errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), `no bucket "nobucket"`) {
				t.Errorf("%s in a missing bucket: %v", name, err)
			}
		}
		if tx.Has("nobucket", "k") {
			t.Error("Has in a missing bucket")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDamagedRecord: a value that is not JSON is an error of its own, not
// "not found", so fsck and callers do not take it for a missing record.
func TestDamagedRecord(t *testing.T) {
	db := openDB(t)
	if err := db.Update(func(tx *Tx) error {
		b, err := tx.bucket(BucketLayers)
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	err := db.View(func(tx *Tx) error { return tx.Get(BucketLayers, "k", new(Layer)) })
	if err == nil || errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "layers/k is damaged") {
		t.Fatalf("got %v", err)
	}
}

func TestDelete(t *testing.T) {
	db := openDB(t)
	put := func(tx *Tx) error { return tx.Put(BucketNames, "a", "x") }
	del := func(tx *Tx) error { return tx.Delete(BucketNames, "a") }
	for _, fn := range []func(*Tx) error{put, del} {
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.View(func(tx *Tx) error { return tx.Get(BucketNames, "a", new(string)) }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

// TestForEach: every record, in key order, raw; an error from fn stops the
// walk and is returned.
func TestForEach(t *testing.T) {
	db := openDB(t)
	keys := []string{"m", "a", "z", "b"}
	if err := db.Update(func(tx *Tx) error {
		for i, k := range keys {
			if err := tx.Put(BucketCache, k, i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	stop := errors.New("stop")
	for _, tc := range []struct {
		stopAt string
		want   []string
		err    error
	}{
		{"", []string{"a=1", "b=3", "m=0", "z=2"}, nil},
		{"b", []string{"a=1", "b=3"}, stop},
	} {
		got = nil
		err := db.View(func(tx *Tx) error {
			return tx.ForEach(BucketCache, func(k string, raw []byte) error {
				got = append(got, k+"="+string(raw))
				if k == tc.stopAt {
					return stop
				}
				return nil
			})
		})
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("stop at %q: got %v, %v; want %v, %v", tc.stopAt, got, err, tc.want, tc.err)
		}
	}
}

// TestFailedUpdateRollsBack: an Update whose fn fails leaves nothing of
// what it wrote or deleted, and returns fn's error.
func TestFailedUpdateRollsBack(t *testing.T) {
	db := openDB(t)
	if err := db.Update(func(tx *Tx) error { return tx.Put(BucketNames, "kept", "1") }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := db.Update(func(tx *Tx) error {
		if err := tx.Put(BucketNames, "new", "2"); err != nil {
			return err
		}
		if err := tx.Delete(BucketNames, "kept"); err != nil {
			return err
		}
		if !tx.Has(BucketNames, "new") || tx.Has(BucketNames, "kept") {
			t.Error("a transaction does not see its own writes")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	err = db.View(func(tx *Tx) error {
		if tx.Has(BucketNames, "new") || !tx.Has(BucketNames, "kept") {
			t.Error("the failed transaction's changes are visible")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewIsReadOnly: View's transaction refuses writes.
func TestViewIsReadOnly(t *testing.T) {
	db := openDB(t)
	err := db.View(func(tx *Tx) error {
		if tx.Writable() {
			t.Error("View's transaction is writable")
		}
		return tx.Put(BucketNames, "a", "x")
	})
	if !errors.Is(err, berrors.ErrTxNotWritable) {
		t.Fatalf("Put in View: %v", err)
	}
	if err := db.Update(func(tx *Tx) error {
		if !tx.Writable() {
			t.Error("Update's transaction is not writable")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// increment adds one to the counter at settings/n in a read-modify-write
// transaction: a lost update shows if two transactions overlap.
func increment(db *DB) error {
	return db.Update(func(tx *Tx) error {
		var n int
		if err := tx.Get(BucketSettings, "n", &n); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
		return tx.Put(BucketSettings, "n", n+1)
	})
}

func counter(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.View(func(tx *Tx) error { return tx.Get(BucketSettings, "n", &n) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentHandles: handles opened separately on one file, as every
// strata process opens its own, serialise their write transactions (the
// file lock), so no read-modify-write is lost.
func TestConcurrentHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	const handles, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, handles)
	for range handles {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := increment(db); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	db, _ := Open(path)
	if n := counter(t, db); n != handles*each {
		t.Fatalf("counter %d, want %d: updates were lost", n, handles*each)
	}
}

// TestReadersShareWritersWait: two read transactions of different handles
// run at once (a long read in one shell does not block another), and a
// write transaction waits for a read one to end.
func TestReadersShareWritersWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Open(path)
	// Short lock waits: if the locks were wrong, this test fails with a
	// timeout error instead of hanging.
	a.timeout, b.timeout = 10*time.Second, 10*time.Second

	readDone := make(chan error)
	err = a.View(func(*Tx) error {
		go func() { readDone <- b.View(func(*Tx) error { return nil }) }()
		return <-readDone // b's read must finish while a's is open
	})
	if err != nil {
		t.Fatalf("a second reader waited for the first: %v", err)
	}

	// The writer checks that the reader has ended; the reader stays open a
	// moment after the writer started, so a writer that did not wait would
	// see it open (a slow machine makes the check weaker, never wrong).
	var readerOpen atomic.Bool
	inside, release, readEnded := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		a.View(func(*Tx) error {
			readerOpen.Store(true)
			close(inside)
			<-release
			readerOpen.Store(false)
			return nil
		})
		close(readEnded)
	}()
	<-inside
	wrote := make(chan error, 1)
	go func() {
		wrote <- b.Update(func(tx *Tx) error {
			if readerOpen.Load() {
				t.Error("a write transaction ran during a read one")
			}
			return tx.Put(BucketSettings, "n", 1)
		})
	}()
	time.Sleep(100 * time.Millisecond)
	close(release)
	<-readEnded
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if n := counter(t, a); n != 1 {
		t.Fatalf("counter %d after one increment", n)
	}
}

// TestConcurrentProcesses runs increments from this process and a child
// process on one database at once: the case of two strata commands on the
// same root.
func TestConcurrentProcesses(t *testing.T) {
	if path := os.Getenv("METADATA_TEST_CHILD_DB"); path != "" {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(os.Getenv("METADATA_TEST_CHILD_N"))
		for range n {
			if err := increment(db); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	path := filepath.Join(t.TempDir(), "meta.db")
	const n = 40
	child := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcesses$", "-test.count=1")
	child.Env = append(os.Environ(), "METADATA_TEST_CHILD_DB="+path, "METADATA_TEST_CHILD_N="+strconv.Itoa(n))
	var out bytes.Buffer
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := increment(db); err != nil {
			t.Fatal(err)
		}
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if got := counter(t, db); got != 2*n {
		t.Fatalf("counter %d, want %d: the processes' updates overlapped", got, 2*n)
	}
}
