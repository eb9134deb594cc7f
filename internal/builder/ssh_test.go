package builder

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSSH(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	keyFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(keyFile, []byte("key"), 0o600)
	env := map[string]string{"SSH_AUTH_SOCK": sock}
	cases := []struct {
		in   []string
		env  map[string]string
		want map[string]string
		err  string
	}{
		{in: nil, want: map[string]string{}},
		{in: []string{"default"}, env: env, want: map[string]string{"default": sock}},
		{in: []string{"default=" + sock, "git=" + sock}, want: map[string]string{"default": sock, "git": sock}},
		{in: []string{"default"}, err: "SSH_AUTH_SOCK is not set"},
		{in: []string{"=" + sock}, err: "no ID"},
		{in: []string{"default=" + keyFile}, err: "not an agent socket"},
		{in: []string{"default=" + keyFile + "," + sock}, err: "not key files"},
		{in: []string{"default=" + filepath.Join(dir, "missing")}, err: "no such file"},
	}
	for _, c := range cases {
		got, err := ParseSSH(c.in, func(k string) string { return c.env[k] })
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSSH(%q): %v, want an error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseSSH(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseSSH(f *testing.F) {
	for _, s := range []string{"default", "id=/tmp/x", "=", "a=b,c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSSH([]string{s}, func(string) string { return "" })
		if err == nil && len(got) != 1 {
			t.Fatalf("ParseSSH(%q) = %v", s, got)
		}
	})
}
