package buildctx

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

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
	saved statFile             // what the file held
	m     map[string]statEntry // entries added or changed since
	dirty bool                 // m holds entries the file lacks
}

type statEntry struct {
	Ino, Size    uint64
	Mtime, Ctime int64
	Sum          [32]byte
}

// statFile is the loaded cache file, decoded only as far as a map from
// each path to where its record is: a fully cached build of a
// 20,000-file context looks up every path, and a map of whole entries
// (and a copy of every path) made its load a tenth of the build.
type statFile struct {
	raw string            // the file's bytes; the map's keys are slices of it
	at  map[string]uint32 // path -> offset of its 64-byte record in raw
}

func (s statFile) get(p string) (statEntry, bool) {
	off, ok := s.at[p]
	if !ok {
		return statEntry{}, false
	}
	r := s.raw[off : off+64]
	var e statEntry
	e.Ino = le64(r)
	e.Size = le64(r[8:])
	e.Mtime = int64(le64(r[16:]))
	e.Ctime = int64(le64(r[24:]))
	copy(e.Sum[:], r[32:64])
	return e, true
}

func le64(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// OpenStatCache loads the cache file (a missing or damaged one is empty).
func OpenStatCache(file string) *StatCache {
	c := &StatCache{path: file, m: map[string]statEntry{}}
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
		// b is never written again: the string shares its bytes.
		if sf, ok := decodeStat(unsafe.String(unsafe.SliceData(b), len(b))); ok {
			c.saved = sf
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

// encodeStat writes the entries of saved that m does not replace, and m.
func encodeStat(saved statFile, m map[string]statEntry) []byte {
	n := len(m)
	for p := range saved.at {
		if _, ok := m[p]; !ok {
			n++
		}
	}
	b := []byte(statMagic)
	b = binary.AppendUvarint(b, uint64(n))
	put := func(p string, e statEntry) {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		b = binary.LittleEndian.AppendUint64(b, e.Ino)
		b = binary.LittleEndian.AppendUint64(b, e.Size)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Mtime))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Ctime))
		b = append(b, e.Sum[:]...)
	}
	for p, off := range saved.at {
		if _, ok := m[p]; !ok {
			b = binary.AppendUvarint(b, uint64(len(p)))
			b = append(b, p...)
			b = append(b, saved.raw[off:off+64]...)
		}
	}
	for p, e := range m {
		put(p, e)
	}
	return b
}

func decodeStat(raw string) (statFile, bool) {
	if !strings.HasPrefix(raw, statMagic) || len(raw) > math.MaxUint32 {
		return statFile{}, false
	}
	off := len(statMagic)
	count, k := uvarint(raw[off:])
	// A record takes at least 65 bytes: a count the file cannot hold is
	// damage, and must not size the map.
	if k <= 0 || count > uint64(len(raw)-off)/65 {
		return statFile{}, false
	}
	off += k
	at := make(map[string]uint32, count)
	for off < len(raw) {
		n, k := uvarint(raw[off:])
		rest := uint64(len(raw) - off)
		// n comes from the file: compare without n+64, which a huge n
		// would wrap around to a small number.
		if k <= 0 || n > rest-uint64(k) || rest-uint64(k)-n < 64 {
			return statFile{}, false
		}
		off += k
		p := raw[off : off+int(n)]
		off += int(n)
		at[p] = uint32(off)
		off += 64
	}
	return statFile{raw: raw, at: at}, true
}

// uvarint is binary.Uvarint on a string (no copy to a []byte).
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
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
	if err := os.WriteFile(tmp, encodeStat(c.saved, c.m), 0o600); err != nil {
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
		if !ok {
			old, ok = c.saved.get(e.Abs)
		}
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
