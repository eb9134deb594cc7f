package buildctx

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// StatCache remembers the sha256 of context files by what stat says of
// them (inode, size, change and modification times), as git's index does:
// a file whose stat data did not change is not read again. The checksum is
// still of the content: a touched file with the same bytes gives the same
// cache key; a file rewritten in the same nanosecond with the same size is
// the only case it misses, as for git.
type StatCache struct {
	path  string
	mu    sync.Mutex
	m     map[string]statEntry
	dirty bool
}

type statEntry struct {
	Ino, Size    uint64
	Mtime, Ctime int64
	Sum          [32]byte
}

// OpenStatCache loads the cache file (a missing or damaged one is empty).
func OpenStatCache(file string) *StatCache {
	c := &StatCache{path: file, m: map[string]statEntry{}}
	if b, err := os.ReadFile(file); err == nil {
		if m, ok := decodeStat(b); ok {
			c.m = m
		}
	}
	return c
}

// The cache file is a magic line then records of: path length (uvarint),
// path, ino, size, mtime, ctime (8 bytes each, little endian), sum. A
// hand-rolled format: encoding/gob's init alone would cost a fully cached
// build 5% of its time.
const statMagic = "strata-statcache-1\n"

func encodeStat(m map[string]statEntry) []byte {
	b := []byte(statMagic)
	for p, e := range m {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		b = binary.LittleEndian.AppendUint64(b, e.Ino)
		b = binary.LittleEndian.AppendUint64(b, e.Size)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Mtime))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Ctime))
		b = append(b, e.Sum[:]...)
	}
	return b
}

func decodeStat(b []byte) (map[string]statEntry, bool) {
	if !bytes.HasPrefix(b, []byte(statMagic)) {
		return nil, false
	}
	b = b[len(statMagic):]
	m := map[string]statEntry{}
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		// n comes from the file: compare without n+64, which a huge n
		// would wrap around to a small number.
		if k <= 0 || n > uint64(len(b)-k) || uint64(len(b)-k)-n < 64 {
			return nil, false
		}
		b = b[k:]
		p := string(b[:n])
		b = b[n:]
		var e statEntry
		e.Ino = binary.LittleEndian.Uint64(b)
		e.Size = binary.LittleEndian.Uint64(b[8:])
		e.Mtime = int64(binary.LittleEndian.Uint64(b[16:]))
		e.Ctime = int64(binary.LittleEndian.Uint64(b[24:]))
		copy(e.Sum[:], b[32:64])
		b = b[64:]
		m[p] = e
	}
	return m, true
}

// Save writes the cache if it changed, atomically.
func (c *StatCache) Save() error {
	if c == nil || c.path == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, encodeStat(c.m), 0o600); err != nil {
		return err
	}
	c.dirty = false
	return os.Rename(tmp, c.path)
}

func key(st *unix.Stat_t) statEntry {
	return statEntry{Ino: st.Ino, Size: uint64(st.Size), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

// FileSum returns the sha256 of a regular file's content.
func (f *FS) FileSum(e *Entry) ([32]byte, error) {
	c := f.Sums
	k := key(&e.Stat)
	if c != nil {
		c.mu.Lock()
		old, ok := c.m[e.Abs]
		c.mu.Unlock()
		if ok && old.Ino == k.Ino && old.Size == k.Size && old.Mtime == k.Mtime && old.Ctime == k.Ctime {
			return old.Sum, nil
		}
	}
	fh, err := os.Open(e.Abs)
	if err != nil {
		return [32]byte{}, err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if c != nil {
		k.Sum = sum
		c.mu.Lock()
		c.m[e.Abs] = k
		c.dirty = true
		c.mu.Unlock()
	}
	return sum, nil
}

// Hex is a short printable form of a sum.
func Hex(sum [32]byte) string { return hex.EncodeToString(sum[:]) }
