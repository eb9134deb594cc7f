package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
)

// checksum hashes the sources: for each file its path, type, mode,
// owner, link target and content (files in parallel on every core, through
// the stat cache), in a fixed order. It also returns one short checksum
// per path for explaining a miss.
func (s *stage) checksum(items []srcItem, excl *dockerignore.Matcher) (string, func() map[string]string, error) {
	type fileRef struct {
		fs *buildctx.FS
		e  *buildctx.Entry
	}
	var refs []fileRef
	var names []string
	addEntry := func(fs *buildctx.FS, name string, e *buildctx.Entry) {
		names = append(names, name)
		refs = append(refs, fileRef{fs, e})
	}
	for _, it := range items {
		switch {
		case it.data != nil:
			addEntry(nil, "<<"+it.name, nil)
			sum := sha256.Sum256(it.data)
			refs[len(refs)-1].e = &buildctx.Entry{Rel: hex.EncodeToString(sum[:])}
		case it.git != nil:
			addEntry(nil, it.git.gitKeyName(), &buildctx.Entry{Rel: gitSourceSum(it.git)})
		case it.url != "":
			addEntry(nil, it.url, it.e)
		case it.e.IsDir():
			err := it.fs.Walk(it.e, excl, func(e *buildctx.Entry, sub string) error {
				addEntry(it.fs, path.Join(it.rel, sub), e)
				return nil
			})
			if err != nil {
				return "", nil, err
			}
		default:
			addEntry(it.fs, it.rel, it.e)
		}
	}
	sums := make([][32]byte, len(refs))
	var firstErr error
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := refs[i]
				if r.e == nil || !r.e.IsRegular() {
					continue
				}
				fs := r.fs
				if fs == nil {
					fs = &buildctx.FS{}
				}
				sum, err := fs.FileSum(r.e)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				sums[i] = sum
			}
		}()
	}
	for i := range refs {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return "", nil, firstErr
	}
	// line is the record of entry i, appended to buf; built without fmt
	// (a 20,000-file context makes one on every build).
	line := func(buf []byte, i int) []byte {
		r := refs[i]
		buf = append(buf, names[i]...)
		buf = append(buf, 0)
		if r.e == nil || r.fs == nil && r.e.Abs == "" {
			buf = append(buf, "data\x00"...)
			return append(buf, r.e.Rel...)
		}
		e := r.e
		buf = strconv.AppendUint(buf, uint64(e.Stat.Mode&unix.S_IFMT), 8)
		buf = append(buf, 0)
		buf = strconv.AppendUint(buf, uint64(e.Stat.Mode&0o7777), 8)
		buf = append(buf, 0)
		buf = strconv.AppendUint(buf, uint64(e.Stat.Uid), 10)
		buf = append(buf, ':')
		buf = strconv.AppendUint(buf, uint64(e.Stat.Gid), 10)
		buf = append(buf, 0)
		if e.IsSymlink() {
			link, _ := os.Readlink(e.Abs)
			buf = append(buf, link...)
		}
		buf = append(buf, 0)
		return hex.AppendEncode(buf, sums[i][:])
	}
	h := sha256.New()
	var buf []byte
	for i := range refs {
		buf = append(line(buf[:0], i), 0)
		h.Write(buf)
	}
	// The per-path checksums only explain a miss: made when asked.
	files := func() map[string]string {
		out := make(map[string]string, len(refs))
		var buf []byte
		for i := range refs {
			buf = line(buf[:0], i)
			ls := sha256.Sum256(buf)
			out[names[i]] = hex.EncodeToString(ls[:8])
		}
		return out
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), files, nil
}
