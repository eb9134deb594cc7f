package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// fixture is a store with three images: base (one layer), app (base plus
// a layer that replaces /etc/conf and removes /tmp/junk), and an unnamed
// one; a container uses app when withContainer.
type fixture struct {
	st        *store.Store
	base, app *metadata.Image
	dangling  *metadata.Image
	srv       *Server
	ts        *httptest.Server
}

func newFixture(t *testing.T, o Options, withContainer bool) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st}
	f.base = storetest.Image(t, st, nil, "example.com/base:1",
		testutil.Tar(t, testutil.Dir("etc"), testutil.File("etc/conf", strings.Repeat("a", 1000)), testutil.Dir("tmp"), testutil.File("tmp/junk", strings.Repeat("j", 500))))
	f.app = storetest.Image(t, st, f.base, "example.com/app:latest",
		testutil.Tar(t, testutil.Dir("etc"), testutil.File("etc/conf", strings.Repeat("b", 2000)), testutil.Dir("tmp"), testutil.Whiteout("tmp/junk"), testutil.Dir("usr"), testutil.Dir("usr/bin"), testutil.File("usr/bin/app", "#!/bin/sh\n"),
			testutil.File("usr/lib/node_modules/lodash/package.json", `{"name": "lodash", "version": "4.17.20"}`)))
	f.dangling = storetest.Image(t, st, nil, "", testutil.Tar(t, testutil.File("orphan", strings.Repeat("o", 4000))))
	o.Store = st
	if withContainer {
		m, err := container.New(st, "vfs", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Create(t.Context(), container.CreateOptions{Image: "example.com/app:latest", Name: "web", Args: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
		o.Containers = func() (*container.Manager, error) { return m, nil }
	}
	f.srv, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv)
	t.Cleanup(f.ts.Close)
	return f
}

// do sends a request with the token header (unless token is "") and the
// given extra headers, and returns the status and body.
func (f *fixture) do(t *testing.T, method, path, token string, body any, hdr map[string]string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.ts.URL+path, rd)
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) get(t *testing.T, path string, v any) {
	t.Helper()
	code, b := f.do(t, "GET", path, f.srv.Token(), nil, nil)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

func TestGuard(t *testing.T) {
	f := newFixture(t, Options{Token: "s3cret"}, false)
	same := map[string]string{"Origin": f.ts.URL}
	cases := []struct {
		name   string
		method string
		path   string
		token  string
		hdr    map[string]string
		want   int
	}{
		{"page without token", "GET", "/", "", nil, 403},
		{"api without token", "GET", "/api/images", "", nil, 403},
		{"api with wrong token", "GET", "/api/images", "guess", nil, 403},
		{"api with token", "GET", "/api/images", "s3cret", nil, 200},
		{"static with token", "GET", "/static/app.js", "s3cret", nil, 200},
		{"wrong token in URL", "GET", "/?token=guess", "", nil, 403},
		{"post without token", "POST", "/api/prune", "", same, 403},
		{"post without origin", "POST", "/api/prune", "s3cret", nil, 403},
		{"post from another origin", "POST", "/api/prune", "s3cret", map[string]string{"Origin": "http://evil.example"}, 403},
		{"post cross-site", "POST", "/api/prune", "s3cret", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"post same-site is not same-origin", "POST", "/api/prune", "s3cret", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": f.ts.URL}, 403},
		{"post same origin", "POST", "/api/prune", "s3cret", same, 200},
		{"post same-origin fetch", "POST", "/api/prune", "s3cret", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.do(t, c.method, c.path, c.token, nil, c.hdr)
			if code != c.want {
				t.Fatalf("%s %s: %d, want %d (%s)", c.method, c.path, code, c.want, body)
			}
		})
	}
}

// TestTokenURL: the printed URL's ?token= sets the cookie and takes the
// token out of the address bar; the cookie then opens the page.
func TestTokenURL(t *testing.T) {
	f := newFixture(t, Options{}, false)
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	resp, err := cl.Get(f.ts.URL + "/?token=" + f.srv.Token())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.RawQuery != "" {
		t.Fatalf("after redirect: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if !bytes.Contains(b, []byte(`content="`+f.srv.Token()+`"`)) {
		t.Fatalf("page does not carry the token for its POSTs:\n%s", b)
	}
	resp, err = cl.Get(f.ts.URL + "/api/images")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("API with the cookie: %d", resp.StatusCode)
	}
}

func TestReadOnly(t *testing.T) {
	f := newFixture(t, Options{ReadOnly: true}, false)
	code, _ := f.do(t, "POST", "/api/images/delete", f.srv.Token(), DeleteRequest{Refs: []string{"example.com/app:latest"}}, map[string]string{"Origin": f.ts.URL})
	if code != 403 {
		t.Fatalf("delete on a read-only server: %d", code)
	}
	if _, err := f.st.Resolve("example.com/app:latest"); err != nil {
		t.Fatalf("read-only server removed the image: %v", err)
	}
	var rows []ImageRow
	f.get(t, "/api/images", &rows)
}

func TestCheckAddr(t *testing.T) {
	cases := []struct {
		addr            string
		readOnly, token bool
		ok              bool
	}{
		{"127.0.0.1:0", false, false, true},
		{"localhost:8080", false, false, true},
		{"[::1]:8080", false, false, true},
		{"0.0.0.0:8080", false, false, false},
		{"192.168.1.2:8080", false, false, false},
		{"0.0.0.0:8080", true, false, true},
		{"0.0.0.0:8080", false, true, true},
		{"8080", false, false, false},
	}
	for _, c := range cases {
		err := CheckAddr(c.addr, c.readOnly, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, ro=%v, token=%v) = %v", c.addr, c.readOnly, c.token, err)
		}
	}
}

func TestImagesAPI(t *testing.T) {
	f := newFixture(t, Options{}, true)
	var rows []ImageRow
	f.get(t, "/api/images", &rows)
	refs := map[string]ImageRow{}
	for _, r := range rows {
		refs[r.Ref] = r
	}
	if len(rows) != 3 {
		t.Fatalf("rows: %+v", rows)
	}
	app := refs["example.com/app:latest"]
	if app.ID != f.app.ID || app.Repository != "example.com/app" || app.Tag != "latest" || len(app.Containers) != 1 || app.Containers[0] != "web" {
		t.Errorf("app row: %+v", app)
	}
	if app.Shared == 0 || app.Unique == 0 || app.Size != app.Shared+app.Unique {
		t.Errorf("app sizes (shared with base, unique layer): %+v", app)
	}
	if d := refs[f.dangling.ID.String()]; d.Repository != "<none>" || d.Tag != "<none>" {
		t.Errorf("unnamed image row: %+v", d)
	}

	var d ImageDetail
	f.get(t, "/api/images/"+f.app.ID.String(), &d)
	if len(d.Analysis.Layers) != 2 || len(d.SharedWith) != 2 {
		t.Fatalf("detail layers: %d, shared: %v", len(d.Analysis.Layers), d.SharedWith)
	}
	if len(d.SharedWith[0]) != 1 || d.SharedWith[0][0] != "example.com/base:1" || len(d.SharedWith[1]) != 0 {
		t.Errorf("shared with: %v", d.SharedWith)
	}
	if d.Analysis.WastedCopyBytes != 1500 { // /etc/conf's first copy and /tmp/junk
		t.Errorf("wasted copies' bytes: %d", d.Analysis.WastedCopyBytes)
	}

	var tl TreeListing
	f.get(t, "/api/images/"+f.app.ID.String()+"/layers/1/tree?dir=/", &tl)
	if got := names(tl); got != "etc:modified tmp:modified usr:added" {
		t.Errorf("layer 1 root: %s", got)
	}
	f.get(t, "/api/images/"+f.app.ID.String()+"/layers/1/tree?dir=/tmp", &tl)
	if got := names(tl); got != "junk:removed" {
		t.Errorf("layer 1 /tmp: %s", got)
	}
	f.get(t, "/api/images/"+f.app.ID.String()+"/layers/0/tree?dir=/etc&view=image", &tl)
	if len(tl.Entries) != 1 || tl.Entries[0].Size != 1000 {
		t.Errorf("layer 0 /etc: %+v", tl.Entries)
	}
	f.get(t, "/api/images/"+f.app.ID.String()+"/layers/1/tree?dir=/usr/bin&view=image", &tl)
	if got := names(tl); got != "app:added" {
		t.Errorf("layer 1 /usr/bin merged: %s", got)
	}
	if code, _ := f.do(t, "GET", "/api/images/"+f.app.ID.String()+"/layers/1/tree?dir=/nope", f.srv.Token(), nil, nil); code != 404 {
		t.Errorf("missing dir: %d", code)
	}
	if code, _ := f.do(t, "GET", "/api/images/"+f.app.ID.String()+"/layers/2/tree", f.srv.Token(), nil, nil); code != 400 {
		t.Errorf("layer out of range: %d", code)
	}

	var hits []PathHit
	f.get(t, "/api/images/"+f.app.ID.String()+"/search?q=conf", &hits)
	if len(hits) != 2 || hits[0].Layer != 0 || hits[1].Layer != 1 {
		t.Errorf("search conf: %+v", hits)
	}

	var cmp struct {
		Layers []struct{ Where string }
		Files  []struct{ Kind, Path string }
	}
	f.get(t, "/api/compare?a=example.com/base:1&b=example.com/app:latest", &cmp)
	if len(cmp.Layers) != 2 || cmp.Layers[0].Where != "shared" || len(cmp.Files) == 0 {
		t.Errorf("compare: %+v", cmp)
	}

	var cs []ContainerRow
	f.get(t, "/api/containers", &cs)
	if len(cs) != 1 || cs[0].Name != "web" || cs[0].Image != f.app.ID || cs[0].State != "created" {
		t.Errorf("containers: %+v", cs)
	}
	var diff []ContainerChange
	f.get(t, "/api/containers/"+cs[0].ID+"/diff", &diff)
}

func names(tl TreeListing) string {
	var s []string
	for _, e := range tl.Entries {
		s = append(s, e.Name+":"+e.Status.String())
	}
	return strings.Join(s, " ")
}

func TestDeleteAndPrune(t *testing.T) {
	f := newFixture(t, Options{}, true)
	same := map[string]string{"Origin": f.ts.URL}
	post := func(path string, body, v any) {
		t.Helper()
		code, b := f.do(t, "POST", path, f.srv.Token(), body, same)
		if code != 200 {
			t.Fatalf("POST %s: %d %s", path, code, b)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	// Docker's rules: an image a container uses is refused by ID, with
	// docker's message; base goes (its layer stays: app uses it).
	var res []DeleteResult
	post("/api/images/delete", DeleteRequest{Refs: []string{f.app.ID.String(), "example.com/base:1"}}, &res)
	if len(res) != 2 || !strings.Contains(res[0].Error, "(must be forced) - image is being used by stopped container") || res[1].Error != "" {
		t.Fatalf("delete: %+v", res)
	}
	if len(res[1].Untagged) != 1 || res[1].Untagged[0] != "example.com/base:1" || len(res[1].Deleted) == 0 || res[1].Deleted[0] != f.base.ID.String() {
		t.Errorf("delete base: %+v", res[1])
	}
	if _, err := f.st.Image(f.app.ID); err != nil {
		t.Errorf("the image in use went: %v", err)
	}

	// The preview says what prune removes and what comes back.
	var pv, done PruneAnswer
	f.get(t, "/api/prune", &pv)
	if len(pv.Images) != 1 || pv.Images[0].ID != f.dangling.ID || pv.Bytes == 0 {
		t.Fatalf("preview: %+v", pv)
	}
	post("/api/prune", nil, &done)
	if len(done.Images) != 1 || done.Images[0].ID != f.dangling.ID || done.Bytes != pv.Bytes {
		t.Errorf("prune did %+v, preview said %+v", done, pv)
	}
	// -a: app is in use, so nothing is left to go.
	f.get(t, "/api/prune?all=1", &pv)
	if len(pv.Images) != 0 || pv.Bytes != 0 {
		t.Errorf("preview -a with only an image in use: %+v", pv)
	}
}

// TestImagePackages: the image page's packages section lists each layer's
// packages, and findings only with an advisory database.
func TestImagePackages(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // no default database
	for _, db := range []string{"", "../vuln/testdata/db"} {
		f := newFixture(t, Options{AdvisoryDB: db}, false)
		var p ImagePackages
		f.get(t, "/api/images/"+f.app.ID.String()+"/packages", &p)
		if len(p.Layers) != 2 || len(p.Layers[0].Packages) != 0 || len(p.Layers[1].Packages) != 1 || p.Layers[1].Packages[0].Name != "lodash" {
			t.Fatalf("db %q: %+v", db, p)
		}
		findings := p.Layers[1].Findings
		if db == "" && (p.DB != "" || len(findings) != 0) {
			t.Errorf("findings without a database: %+v", p)
		}
		if db != "" && (len(findings) != 1 || findings[0].ID != "GHSA-35jh-r3h4-6jhm") {
			t.Errorf("findings %+v", findings)
		}
	}
}
