package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCpAsDocker: cp keeps what docker 20.10's cp keeps, and streams tars
// with "-". Recorded from docker on the same tree (dir 0755 and sub 0750
// owned 1234:5678, f 0604, times 2020-01-02 03:04:05):
//
//	$ docker cp cpsrc c:/x; docker exec c ls -lan --full-time /x /x/sub
//	  -rw----r-- 1234 5678 ... 2020-01-02 03:04:05 f;  drwxr-x--- 1234 5678 ... 2020-01-02 03:04:05 sub
//	$ docker cp c:/x - | tar tv   -> x/, x/f, x/l -> f, x/sub/, x/sub/g with owners 1234/5678
//	$ tar -c cpsrc | docker cp - c:/y            -> /y/cpsrc with the owners, modes and times
//	$ tar -c cpsrc | docker cp - c:/y/cpsrc/f    -> destination "c:/y/cpsrc/f" must be a directory, rc 1
func TestCpAsDocker(t *testing.T) {
	bin := strataBin(t)
	root := busyboxRoot(t)
	src := filepath.Join(t.TempDir(), "cpsrc")
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, d := range []string{src, src + "/sub"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"f": "hello\n", "sub/g": "x\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(src+"/f", 0o604))
	must(os.Chmod(src+"/sub", 0o750))
	for _, p := range []string{src, src + "/f", src + "/sub", src + "/sub/g"} {
		must(os.Chown(p, 1234, 5678))
		must(os.Chtimes(p, old, old))
	}
	if _, errOut, code := sh(t, root, "run", "-d", "--name", "c1", "busybox", "sleep", "60"); code != 0 {
		t.Fatal(errOut)
	}
	stat := func(paths ...string) string {
		out, errOut, code := sh(t, root, append([]string{"exec", "c1", "stat", "-c", "%n %a %u:%g %Y"}, paths...)...)
		if code != 0 {
			t.Fatal(errOut)
		}
		return out
	}
	want := func(dir string) string {
		return dir + " 755 1234:5678 1577934245\n" + dir + "/f 604 1234:5678 1577934245\n" + dir + "/sub 750 1234:5678 1577934245\n" + dir + "/sub/g 644 1234:5678 1577934245\n"
	}
	if _, errOut, code := sh(t, root, "cp", src, "c1:/x"); code != 0 {
		t.Fatal(errOut)
	}
	if got := stat("/x", "/x/f", "/x/sub", "/x/sub/g"); got != want("/x") {
		t.Errorf("cp DIR c1:/x:\n%s\nwant\n%s", got, want("/x"))
	}

	// Out to a path whose directory is missing: docker 20.10's words
	// (recorded), nothing written.
	missing := filepath.Join(t.TempDir(), "nosuch", "f")
	if _, errOut, code := sh(t, root, "cp", "c1:/x/f", missing); code != 1 || errOut != fmt.Sprintf("Error: invalid output path: directory %q does not exist\n", filepath.Dir(missing)) {
		t.Errorf("cp c1:/x/f %s: exit %d %q", missing, code, errOut)
	}

	// A tar out on stdout.
	out, errOut, code := sh(t, root, "cp", "c1:/x", "-")
	if code != 0 {
		t.Fatal(errOut)
	}
	var names []string
	tr := tar.NewReader(strings.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name+" "+h.FileInfo().Mode().String()+" "+strings.Join([]string{itoa(h.Uid), itoa(h.Gid)}, ":"))
	}
	wantTar := "x/ drwxr-xr-x 1234:5678,x/f -rw----r-- 1234:5678,x/sub/ drwxr-x--- 1234:5678,x/sub/g -rw-r--r-- 1234:5678"
	if strings.Join(names, ",") != wantTar {
		t.Errorf("cp c1:/x -: %q, want %q", strings.Join(names, ","), wantTar)
	}

	// A tar in from stdin, extracted in a directory.
	var tarIn bytes.Buffer
	c := exec.Command("tar", "-C", filepath.Dir(src), "-c", "cpsrc")
	c.Stdout = &tarIn
	must(c.Run())
	sh(t, root, "exec", "c1", "mkdir", "/y")
	for _, s := range []struct {
		dst, wantErr string
		code         int
	}{
		{"c1:/y", "", 0},
		{"c1:/y/cpsrc/f", "Error: destination \"c1:/y/cpsrc/f\" must be a directory\n", 1},
		{"c1:/nosuch", "Error: destination \"c1:/nosuch\" must be a directory\n", 1},
	} {
		cmd := exec.Command(bin, "--root", root, "cp", "-", s.dst)
		cmd.Stdin = bytes.NewReader(tarIn.Bytes())
		var e bytes.Buffer
		cmd.Stderr = &e
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != s.code || e.String() != s.wantErr {
			t.Errorf("cp - %s: exit %d %q (%v), want %d %q", s.dst, code, e.String(), err, s.code, s.wantErr)
		}
	}
	if got := stat("/y/cpsrc", "/y/cpsrc/f", "/y/cpsrc/sub", "/y/cpsrc/sub/g"); got != want("/y/cpsrc") {
		t.Errorf("cp - c1:/y:\n%s\nwant\n%s", got, want("/y/cpsrc"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
