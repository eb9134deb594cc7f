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

// The cache file is a magic line, the number of records (uvarint), then
// records of: path length (uvarint), path, ino, size, mtime, ctime (8
// bytes each, little endian), sum. A hand-rolled format: encoding/gob's
// init alone would cost a fully cached build 5% of its time; the count
// sizes the map once instead of growing it through 20,000 paths.
const statMagic = "strata-statcache-2\n"

func encodeStat(m map[string]statEntry) []byte {
	b := []byte(statMagic)
	b = binary.AppendUvarint(b, uint64(len(m)))
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

func decodeStat(raw []byte) (map[string]statEntry, bool) {
	if !bytes.HasPrefix(raw, []byte(statMagic)) {
		return nil, false
	}
	// One string holds every path: the keys are slices of it, not one
	// allocation each.
	b := raw[len(statMagic):]
	all := string(b)
	count, k := binary.Uvarint(b)
	// A record takes at least 65 bytes: a count the file cannot hold is
	// damage, and must not size the map.
	if k <= 0 || count > uint64(len(b))/65 {
		return nil, false
	}
	off := k
	m := make(map[string]statEntry, count)
	for off < len(b) {
		n, k := binary.Uvarint(b[off:])
		rest := uint64(len(b) - off)
		// n comes from the file: compare without n+64, which a huge n
		// would wrap around to a small number.
		if k <= 0 || n > rest-uint64(k) || rest-uint64(k)-n < 64 {
			return nil, false
		}
		off += k
		p := all[off : off+int(n)]
		off += int(n)
		r := b[off : off+64]
		var e statEntry
		e.Ino = binary.LittleEndian.Uint64(r)
		e.Size = binary.LittleEndian.Uint64(r[8:])
		e.Mtime = int64(binary.LittleEndian.Uint64(r[16:]))
		e.Ctime = int64(binary.LittleEndian.Uint64(r[24:]))
		copy(e.Sum[:], r[32:64])
		off += 64
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
