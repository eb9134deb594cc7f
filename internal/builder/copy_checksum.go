package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/builder/dockerignore"
)

// checksum hashes the sources: for each file its path, type, mode,
// owner, link target and content (files in parallel on every core, through
// the stat cache), in a fixed order. It also returns one short checksum
// per path for explaining a miss.
func (s *stage) checksum(items []srcItem, excl *dockerignore.Matcher) (string, map[string]string, error) {
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
	h := sha256.New()
	files := map[string]string{}
	for i, r := range refs {
		var line string
		if r.e == nil || r.fs == nil && r.e.Abs == "" {
			line = fmt.Sprintf("%s\x00data\x00%s", names[i], r.e.Rel)
		} else {
			e := r.e
			var link string
			if e.IsSymlink() {
				link, _ = os.Readlink(e.Abs)
			}
			typ := e.Stat.Mode & unix.S_IFMT
			line = fmt.Sprintf("%s\x00%o\x00%o\x00%d:%d\x00%s\x00%x", names[i], typ, e.Stat.Mode&0o7777, e.Stat.Uid, e.Stat.Gid, link, sums[i])
		}
		h.Write([]byte(line))
		h.Write([]byte{0})
		ls := sha256.Sum256([]byte(line))
		files[names[i]] = hex.EncodeToString(ls[:8])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), files, nil
}
