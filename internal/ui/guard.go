package ui

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
)

// tokenCookie carries the token after the first visit, so that links and
// the script's requests need not repeat it; SameSite=Strict keeps other
// sites' pages from sending it.
const tokenCookie = "strata_ui_token"

// TokenHeader carries the token on requests that change the store: a
// page of another origin cannot set it without the server's consent
// (CORS), nor read the token to put in it.
const TokenHeader = "X-Strata-Token"

// guard lets a request through or answers 403 (and returns false):
//   - every request needs the token: ?token= (which sets the cookie and
//     redirects to the same URL without it), the cookie, or the header;
//   - a POST needs the token in the header, and an Origin that is the
//     server's own or Sec-Fetch-Site: same-origin (one of them present);
//   - a read-only server refuses every POST.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) bool {
	if q := r.URL.Query().Get("token"); q != "" && r.Method == http.MethodGet {
		if !s.tokenIs(q) {
			forbid(w, "wrong token")
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		u := *r.URL
		v := u.Query()
		v.Del("token")
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if c, err := r.Cookie(tokenCookie); err == nil && s.tokenIs(c.Value) || s.tokenIs(r.Header.Get(TokenHeader)) {
			return true
		}
		forbid(w, "no token: open the URL strata ui printed")
		return false
	}
	if s.o.ReadOnly {
		forbid(w, "read-only: this server changes nothing")
		return false
	}
	if !s.tokenIs(r.Header.Get(TokenHeader)) {
		forbid(w, "no token in "+TokenHeader)
		return false
	}
	if err := sameOrigin(r); err != nil {
		forbid(w, err.Error())
		return false
	}
	return true
}

func (s *Server) tokenIs(t string) bool {
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.o.Token)) == 1
}

// sameOrigin checks that a browser sent r from one of the server's own
// pages: Sec-Fetch-Site, when sent, must say same-origin, and Origin, when
// sent, must be this host; a request with neither is refused (curl: add
// -H "Origin: http://HOST:PORT").
func sameOrigin(r *http.Request) error {
	site, origin := r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin")
	if site == "" && origin == "" {
		return errors.New("neither Origin nor Sec-Fetch-Site: not a same-origin request")
	}
	if site != "" && site != "same-origin" {
		return errors.New("Sec-Fetch-Site " + site + ": not a same-origin request")
	}
	if origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") {
			return errors.New("Origin " + origin + " is not this server")
		}
	}
	return nil
}

func forbid(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(map[string]string{"error": why})
}

// CheckAddr refuses to listen beyond loopback unless the server is
// read-only or the user chose the token (so that whoever may reach the
// port does not act with a token printed on someone else's terminal).
func CheckAddr(addr string, readOnly, tokenGiven bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("--addr " + addr + ": want HOST:PORT (e.g. 127.0.0.1:8080)")
	}
	if IsLoopback(host) || readOnly || tokenGiven {
		return nil
	}
	return errors.New("--addr " + addr + " is not a loopback address: add --read-only or --token")
}

// IsLoopback says whether host (a name or an IP) is this machine only.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
