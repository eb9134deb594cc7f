// Package metadata keeps the store's records (names, images, layers, and the
// buckets later features add: containers, build cache, leases) in a bbolt
// database.
//
// The database is opened for each transaction and closed after it, because
// bbolt holds an exclusive file lock while open read-write: keeping it open
// for a whole command would make every other strata process on the same
// root wait for a long load or build to finish. Read transactions take a
// shared lock, so any number of readers run at once.
package metadata

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Bucket names. Each holds JSON values under string keys.
const (
	BucketImages     = "images"     // image ID -> Image
	BucketNames      = "names"      // normalized reference -> image ID, or index digest
	BucketLayers     = "layers"     // blob digest -> Layer
	BucketContainers = "containers" // container ID -> container record
	BucketCache      = "cache"      // build cache key -> cache record
	BucketLeases     = "leases"     // lease ID -> lease record
	BucketSettings   = "settings"   // store-wide settings (storage driver...)
	BucketSnapBlobs  = "snapblobs"  // blob digest -> SnapBlob (a layer kept as its snapshot)
	BucketConverted  = "converted"  // ConvertedKey(diffID, compression) -> Converted
	BucketIndexes    = "indexes"    // index blob digest -> Index (a multi-platform image)
)

var allBuckets = []string{BucketImages, BucketNames, BucketLayers, BucketContainers, BucketCache, BucketLeases, BucketSettings, BucketSnapBlobs, BucketConverted, BucketIndexes}

// DB is a metadata database file.
type DB struct {
	path    string
	timeout time.Duration
}

// Open creates the database and its buckets if needed.
func Open(path string) (*DB, error) {
	db := &DB{path: path, timeout: 5 * time.Minute}
	// Usually the buckets exist: check that in a read transaction, as an
	// empty write transaction still costs two fsyncs, which would be most
	// of the time of a fast command (a fully cached build).
	if _, err := os.Stat(path); err == nil {
		complete := false
		err := db.View(func(tx *Tx) error {
			complete = true
			for _, name := range allBuckets {
				if tx.tx.Bucket([]byte(name)) == nil {
					complete = false
				}
			}
			return nil
		})
		if err == nil && complete {
			return db, nil
		}
	}
	return db, db.Update(func(*Tx) error { return nil })
}

func (db *DB) open(readOnly bool) (*bolt.DB, error) {
	b, err := bolt.Open(db.path, 0o600, &bolt.Options{Timeout: db.timeout, ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", db.path, err)
	}
	return b, nil
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	b, err := db.open(true)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.View(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
}

// Update runs fn in a read-write transaction; it commits only if fn returns nil.
func (db *DB) Update(fn func(*Tx) error) error {
	b, err := db.open(false)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return fn(&Tx{tx})
	})
}

// Tx is a transaction over JSON records.
type Tx struct{ tx *bolt.Tx }

func (t *Tx) bucket(name string) (*bolt.Bucket, error) {
	b := t.tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("metadata: no bucket %q", name)
	}
	return b, nil
}

// Get decodes the record at bucket/key into v; errdefs.ErrNotFound if absent.
func (t *Tx) Get(bucket, key string, v any) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return fmt.Errorf("%s %s: %w", bucket, key, errdefs.ErrNotFound)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("metadata %s/%s is damaged: %w", bucket, key, err)
	}
	return nil
}

// Has reports whether bucket/key exists.
func (t *Tx) Has(bucket, key string) bool {
	b, err := t.bucket(bucket)
	return err == nil && b.Get([]byte(key)) != nil
}

// Put stores v at bucket/key.
func (t *Tx) Put(bucket, key string, v any) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// Delete removes bucket/key; a missing key is not an error.
func (t *Tx) Delete(bucket, key string) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Delete([]byte(key))
}

// ForEach calls fn with every key and raw JSON value of a bucket, in key order.
func (t *Tx) ForEach(bucket string, fn func(key string, raw []byte) error) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
}

// Writable reports whether the transaction may write.
func (t *Tx) Writable() bool { return t.tx.Writable() }
