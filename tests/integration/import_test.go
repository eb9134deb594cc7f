package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testutil"
)

// compressed writes path compressed with the named tool (gzip, zstd, bzip2).
func compressed(t *testing.T, path, tool string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
	out := path + "." + tool
	cmd := exec.Command("sh", "-c", tool+" -c < "+path+" > "+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", tool, err, b)
	}
	return out
}

// Whatever the compression of the tarball, the image's layer is the same
// filesystem: the same diffID.
func TestImportCompressions(t *testing.T) {
	root := t.TempDir()
	plain := rootfsTar(t, 10, 4096, 7)
	must(t, root, "import", plain, "plain:1")
	want := must(t, root, "inspect", "--format", "{{json .RootFS.Layers}}", "plain:1")
	for _, tool := range []string{"gzip", "zstd", "bzip2"} {
		t.Run(tool, func(t *testing.T) {
			f := compressed(t, plain, tool)
			must(t, root, "import", f, tool+":1")
			got := must(t, root, "inspect", "--format", "{{json .RootFS.Layers}}", tool+":1")
			if got != want {
				t.Fatalf("%s import has layers %s, plain %s", tool, got, want)
			}
		})
	}
	// From stdin, with changes and a message.
	cmd := exec.Command(bin, "--root", root, "import", "-c", "ENV A=b", "-c", `CMD ["/bin/sh"]`, "-m", "from stdin", "-", "stdin:1")
	f, _ := os.Open(plain)
	defer f.Close()
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import -: %v %s", err, out)
	}
	got := must(t, root, "inspect", "--format", "{{json .Config.Env}} {{json .Config.Cmd}} {{.Comment}}", "stdin:1")
	if strings.TrimSpace(got) != `["A=b"] ["/bin/sh"] from stdin` {
		t.Fatalf("config of import -c -m: %s", got)
	}
	fsckOK(t, root, "imports")
}

// Bad input gets one line on stderr, a non-zero exit, and changes nothing.
func TestImportBadInput(t *testing.T) {
	root := t.TempDir()
	must(t, root, "import", rootfsTar(t, 3, 100, 8), "keep:1")
	good := rootfsTar(t, 20, 8192, 9)
	data, _ := os.ReadFile(good)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	corrupt := append([]byte{}, data...)
	copy(corrupt[512+100:], []byte("garbage")) // the second header: its checksum no longer matches
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"truncated tar", []string{"import", write("trunc.tar", data[:len(data)/2]), "bad:1"}, "invalid layer tar"},
		{"corrupt header", []string{"import", write("corrupt.tar", corrupt), "bad:1"}, "invalid layer"},
		{"not a tar", []string{"import", write("text.tar", []byte(strings.Repeat("hello\n", 200))), "bad:1"}, "invalid layer tar"},
		{"dotdot entry", []string{"import", write("dotdot.tar", testutil.Tar(t, testutil.File("../../etc/evil", "evil"))), "bad:1"}, "leaves the root"},
		{"missing file", []string{"import", filepath.Join(dir, "nope.tar"), "bad:1"}, "no such file"},
		{"bad name", []string{"import", good, "Bad:Name:1"}, "invalid reference format"},
		{"bad change", []string{"import", "-c", "RUN rm -rf /", good, "bad:1"}, "RUN is not allowed"},
		{"xz", []string{"import", write("x.tar.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}), "bad:1"}, "not supported"},
		{"unknown image", []string{"history", "nope:1"}, "No such image: nope:1"},
		{"bad reference", []string{"inspect", "UPPER/Case"}, "No such object"}, // docker inspect UPPER/Case: No such object
		{"unknown rmi", []string{"rmi", "sha256:" + strings.Repeat("0", 64)}, "No such image"},
	}
	listing := []string{"images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}} {{.Size}}"}
	before := must(t, root, listing...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := strata(t, root, c.args...)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", out)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: ") || !strings.Contains(lines[0], c.want) {
				t.Fatalf("stderr %q, want one Error: line with %q", errOut, c.want)
			}
			if after := must(t, root, listing...); after != before {
				t.Fatalf("images changed:\n%s\nwas\n%s", after, before)
			}
		})
	}
	fsckOK(t, root, "bad input")
}
