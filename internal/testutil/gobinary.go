package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GoBinaryWithXNet builds, with the go command running the test, a small
// Go program whose build information requires golang.org/x/net at
// version (e.g. v0.16.0), and returns its bytes. The module is replaced by
// a local stub of that name, so the build needs no network, yet
// debug/buildinfo reports the module and version a real build would.
func GoBinaryWithXNet(t testing.TB, version string) []byte {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building a Go binary fixture needs the go command: %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/app\n\ngo 1.21\n\nrequire golang.org/x/net " + version +
			"\n\nreplace golang.org/x/net => ./xnet\n",
		"main.go":           "package main\n\nimport \"golang.org/x/net/html\"\n\nfunc main() { println(html.Name()) }\n",
		"xnet/go.mod":       "module golang.org/x/net\n\ngo 1.21\n",
		"xnet/html/html.go": "// Package html stands for golang.org/x/net/html in tests.\npackage html\n\n// Name is linked into the program.\nfunc Name() string { return \"html\" }\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "app")
	cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the fixture: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
