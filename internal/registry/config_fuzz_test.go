package registry

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// FuzzDockerConfig: a docker config.json of any content (what `docker
// login` and `strata login` write, and what every pull and push reads)
// gives credentials or an error, never a panic. Files naming credential
// helpers are left out: a helper is a program, not a format.
func FuzzDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"localhost:5000":{"auth":"dXNlcjpwYXNz"},"https://index.docker.io/v1/":{"auth":"YTpi"}}}`))
	f.Add([]byte(`{"auths":{"localhost:5000":{"username":"u","password":"p","identitytoken":"t"}}}`))
	f.Add([]byte(`{"auths":{"localhost:5000":{"auth":"bm9jb2xvbg=="}}}`))
	f.Add([]byte(`{"auths":null}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Contains(b, []byte("cred")) || bytes.Contains(b, []byte(`\u`)) {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dir)
		for _, r := range []string{"localhost:5000/a/b", "busybox"} {
			ref, err := name.ParseReference(r)
			if err != nil {
				t.Fatal(err)
			}
			auth, err := Keychain().Resolve(ref.Context())
			if err != nil {
				continue
			}
			auth.Authorization()
		}
	})
}

// FuzzInsecureRegistries: a daemon.json (or strata's config.json) of any
// content gives a list of insecure registries or an error, and a client
// made with it decides plain HTTP or TLS for any host without a panic;
// loopback hosts always speak plain HTTP, as in docker.
func FuzzInsecureRegistries(f *testing.F) {
	f.Add([]byte(`{"insecure-registries":["myreg:5000","10.0.0.0/8","host"]}`), "10.1.2.3:5000")
	f.Add([]byte(`{"insecure-registries":["::1/128","[::1]:5000",""]}`), "[::1]:5000")
	f.Add([]byte(`{"insecure-registries":"x"}`), "x")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte, host string) {
		p := filepath.Join(dir, "daemon.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := New(Options{ConfigFiles: []string{p}})
		if err != nil {
			return
		}
		c.plainHTTP(host)
		if !c.plainHTTP("127.0.0.1:5000") || !c.plainHTTP("localhost") {
			t.Fatal("a loopback registry is not plain HTTP")
		}
	})
}
