package builder

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/store"
)

// urlRecord is what the URL cache keeps of an ADD URL's last download:
// the server's validators and the content's digest. The content is kept
// by its digest (ROOT/build/url-cache/HEX.data), so a record and the
// content it names always agree, whatever builds run at once.
type urlRecord struct {
	ETag         string        `json:"etag,omitempty"`
	LastModified string        `json:"lastModified,omitempty"`
	Digest       digest.Digest `json:"digest"`
}

// download fetches an ADD URL into the build's temp dir; its checksum is
// the content's, checked against --checksum when given. A URL fetched
// before is asked for with its validators (If-None-Match,
// If-Modified-Since), as BuildKit does: when the server answers 304 Not
// Modified the kept copy is used and nothing is downloaded.
func (s *stage) download(ctx context.Context, raw, want string) (srcItem, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return srcItem{}, err
	}
	cacheDir := s.b.st.Path(store.URLCache)
	recPath := filepath.Join(cacheDir, digest.FromString(raw).Encoded()+".json")
	var rec urlRecord
	cached := false
	if b, err := os.ReadFile(recPath); err == nil && json.Unmarshal(b, &rec) == nil && rec.Digest.Validate() == nil {
		_, err := os.Stat(cachedData(cacheDir, rec.Digest))
		cached = err == nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return srcItem{}, err
	}
	if cached {
		if rec.ETag != "" {
			req.Header.Set("If-None-Match", rec.ETag)
		}
		if rec.LastModified != "" {
			req.Header.Set("If-Modified-Since", rec.LastModified)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return srcItem{}, fmt.Errorf("ADD %s: %w", raw, err)
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp(s.b.tmp, "url-")
	if err != nil {
		return srcItem{}, err
	}
	f.Close()
	var got digest.Digest
	lastModified := resp.Header.Get("Last-Modified")
	switch {
	case resp.StatusCode == http.StatusNotModified && cached:
		// A link of the kept copy, which a prune may remove.
		os.Remove(f.Name())
		if err := os.Link(cachedData(cacheDir, rec.Digest), f.Name()); err != nil {
			return srcItem{}, err
		}
		got, lastModified = rec.Digest, rec.LastModified
	case resp.StatusCode == http.StatusOK:
		if got, err = saveBody(f.Name(), resp.Body); err != nil {
			return srcItem{}, fmt.Errorf("ADD %s: %w", raw, err)
		}
		if etag := resp.Header.Get("ETag"); etag != "" || lastModified != "" {
			// Kept for the next build; a failure only costs a download.
			keepDownload(cacheDir, recPath, f.Name(), urlRecord{ETag: etag, LastModified: lastModified, Digest: got})
		}
	default:
		return srcItem{}, fmt.Errorf("ADD %s: %s", raw, resp.Status)
	}
	if want != "" && got.String() != want {
		return srcItem{}, fmt.Errorf("ADD %s: checksum mismatch: want %s, got %s", raw, want, got)
	}
	mtime := time.Unix(0, 0)
	if lm, err := http.ParseTime(lastModified); err == nil {
		mtime = lm
	}
	os.Chtimes(f.Name(), mtime, mtime)
	e := &buildctx.Entry{Rel: raw, Abs: f.Name()}
	if err := unix.Lstat(f.Name(), &e.Stat); err != nil {
		return srcItem{}, err
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	return srcItem{url: raw, e: e, rel: name, name: name}, nil
}

// saveBody writes a response body to file and returns its digest.
func saveBody(file string, body io.Reader) (digest.Digest, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return digest.NewDigest(digest.SHA256, h), err
}

func cachedData(dir string, d digest.Digest) string { return filepath.Join(dir, d.Encoded()+".data") }

// keepDownload links a download into the URL cache and records it, each
// by a rename, content first: a record never names content it lacks.
func keepDownload(dir, recPath, file string, rec urlRecord) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	data := cachedData(dir, rec.Digest)
	tmp := data + ".tmp-" + randomID()
	if err := os.Link(file, tmp); err != nil {
		return
	}
	if err := os.Rename(tmp, data); err != nil {
		os.Remove(tmp)
		return
	}
	b, _ := json.Marshal(rec)
	tmp = recPath + ".tmp-" + randomID()
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, recPath); err != nil {
		os.Remove(tmp)
	}
}
