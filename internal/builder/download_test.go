package builder

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-dev/strata/internal/store"
)

// urlServer serves one file whose content the test changes, with an ETag
// and a Last-Modified, answering 304 to a request that still matches.
type urlServer struct {
	mu        sync.Mutex
	body      string
	full, not int // 200 and 304 answers
}

func (u *urlServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if r.URL.Path != "/files/app.txt" {
		http.NotFound(w, r)
		return
	}
	etag := `"` + digest.FromString(u.body).Encoded()[:16] + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).Format(http.TimeFormat))
	if r.Header.Get("If-None-Match") == etag {
		u.not++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	u.full++
	fmt.Fprint(w, u.body)
}

func (u *urlServer) counts() (int, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.full, u.not
}

func (u *urlServer) set(body string) {
	u.mu.Lock()
	u.body = body
	u.mu.Unlock()
}

// TestAddURL: ADD of a URL downloads the file (named after the URL's
// path, its time the Last-Modified); a rebuild asks with the ETag, gets
// 304 and reuses the kept copy (every step cached, nothing downloaded); a
// changed file is downloaded and its step rebuilt; --checksum and HTTP
// errors fail the build with one line.
func TestAddURL(t *testing.T) {
	srv := &urlServer{body: "version 1\n"}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	url := hs.URL + "/files/app.txt"
	e := newEnv(t, map[string]string{"Dockerfile": "FROM scratch\nADD " + url + " /opt/\n"})
	res, out, err := e.build(Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if f := e.files(t, res); !strings.Contains(f, "+ /opt/app.txt file 0600 0:0 10 ") {
		t.Errorf("downloaded file:\n%s", f)
	}
	if full, not := srv.counts(); full != 1 || not != 0 {
		t.Fatalf("first build: %d downloads, %d not-modified", full, not)
	}

	res2, out2, err := e.build(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if full, not := srv.counts(); full != 1 || not != 1 || res2.Built != 0 || res2.ImageID != res.ImageID {
		t.Fatalf("unchanged URL: %d downloads, %d not-modified, %+v\n%s", full, not, res2, out2)
	}

	srv.set("version 2, longer\n")
	res3, out3, err := e.build(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if full, _ := srv.counts(); full != 2 || res3.Built != 1 {
		t.Fatalf("changed URL: %d downloads, %+v\n%s", full, res3, out3)
	}
	if f := e.files(t, res3); !strings.Contains(f, "+ /opt/app.txt file 0600 0:0 18 ") {
		t.Errorf("changed file:\n%s", f)
	}

	// The kept copy gone (builder prune --all): downloaded again.
	if err := os.RemoveAll(e.st.Path(store.URLCache)); err != nil {
		t.Fatal(err)
	}
	if _, out, err := e.build(Options{}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if full, _ := srv.counts(); full != 3 {
		t.Fatalf("after the URL cache was emptied: %d downloads, want 3", full)
	}

	for _, tc := range []struct{ df, want string }{
		{"FROM scratch\nADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + url + " /x\n", "checksum mismatch"},
		{"FROM scratch\nADD " + hs.URL + "/missing /x\n", "404 Not Found"},
	} {
		e := newEnv(t, map[string]string{"Dockerfile": tc.df})
		if _, out, err := e.build(Options{}); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err %v, want one line with %q\n%s", tc.df, err, tc.want, out)
		}
	}
}
