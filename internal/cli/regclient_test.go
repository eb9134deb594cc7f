package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestRegistryClientOptions: every command that reads a registry (pull,
// build's FROM, analyze's docker://) makes its client the same way, so all
// of them honour --tls-verify=false (a registry with a self-signed
// certificate) and the insecure-registries of $STRATA_CONFIG (a registry
// on a non-loopback address spoken to in plain HTTP), and all refuse both
// without.
func TestRegistryClientOptions(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	reg.PutImage(t, "base", "1", "linux/"+runtime.GOARCH, testutil.Tar(t, testutil.File("hello", "hi\n")))
	target, _ := url.Parse("http://" + reg.Host)

	// The registry behind TLS with a certificate no one signed (loopback).
	tlsFront := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(tlsFront.Close)
	tlsHost := strings.TrimPrefix(tlsFront.URL, "https://")

	// The registry in plain HTTP on an address that is not loopback: TLS
	// unless listed as insecure.
	plainHost := plainFront(t, target)

	insecureConfig := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(insecureConfig, []byte(fmt.Sprintf(`{"insecure-registries": [%q]}`, plainHost)), 0o644); err != nil {
		t.Fatal(err)
	}
	noConfig := filepath.Join(t.TempDir(), "none.json")

	commands := map[string]func(host string, flags ...string) []string{
		"pull": func(host string, flags ...string) []string {
			return append(append([]string{"pull", "-q"}, flags...), host+"/base:1")
		},
		"build": func(host string, flags ...string) []string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+host+"/base:1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return append(append([]string{"build", "-q"}, flags...), dir)
		},
		"analyze": func(host string, flags ...string) []string {
			return append(append([]string{"analyze"}, flags...), "docker://"+host+"/base:1")
		},
		// docker's spelling of --tls-verify=false.
		"manifest inspect --insecure": func(host string, flags ...string) []string {
			args := []string{"manifest", "inspect"}
			for _, f := range flags {
				if f == "--tls-verify=false" {
					f = "--insecure"
				}
				args = append(args, f)
			}
			return append(args, host+"/base:1")
		},
	}
	for name, args := range commands {
		for _, c := range []struct {
			how    string
			host   string
			config string
			flags  []string
			ok     bool
		}{
			{"self-signed, verified", tlsHost, noConfig, nil, false},
			{"self-signed, --tls-verify=false", tlsHost, noConfig, []string{"--tls-verify=false"}, true},
			{"plain HTTP, not listed", plainHost, noConfig, nil, false},
			{"plain HTTP, in insecure-registries", plainHost, insecureConfig, nil, true},
		} {
			t.Run(name+"/"+c.how, func(t *testing.T) {
				t.Setenv("STRATA_CONFIG", c.config)
				_, errOut, code := strata(t, t.TempDir(), "", args(c.host, c.flags...)...)
				if (code == 0) != c.ok {
					t.Errorf("exit %d, want success %v; stderr %q", code, c.ok, errOut)
				}
			})
		}
	}
}

// plainFront serves target in plain HTTP on this machine's first
// non-loopback IPv4 address (the test is skipped on a machine without one).
func plainFront(t *testing.T, target *url.URL) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var ip net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ip = n.IP
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback IPv4 address to serve a plain-HTTP registry on")
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}
