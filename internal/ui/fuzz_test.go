package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/store"
)

// FuzzRequests sends the server arbitrary requests: none may crash it or
// fail with a 5xx, and no POST without the token header and a same-origin
// Origin gets through the guard.
func FuzzRequests(f *testing.F) {
	f.Add("GET", "/api/images/x/layers/0/tree?dir=/../..&view=layer", "", "", "")
	f.Add("GET", "/api/images/sha256:00/search?q=a", "", "", "")
	f.Add("GET", "/api/compare?a=a&b=b", "", "", "")
	f.Add("POST", "/api/images/delete", `{"refs":["a:b","sha256:zz"]}`, "tok", "http://example.com")
	f.Add("POST", "/api/pulls", `{"ref":"::"}`, "tok", "SELF")
	f.Add("POST", "/api/images/delete", `{"refs":`, "tok", "SELF")
	f.Add("GET", "/?token=%zz", "", "", "")
	st, err := store.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Options{Store: st, Token: "tok"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, body, token, origin string) {
		if method != "GET" && method != "POST" || !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(method, "http://ui.test"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Host = "ui.test"
		if origin == "SELF" {
			origin = "http://ui.test"
		}
		req.Header.Set(TokenHeader, token)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
		if method == "POST" && (token != "tok" || origin != "http://ui.test") && rec.Code != http.StatusForbidden {
			t.Fatalf("POST %s with token %q, Origin %q: %d, want 403", target, token, origin, rec.Code)
		}
	})
}
