package output

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-dev/strata/internal/archive"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Spec
		err  string
	}{
		{in: "out", want: Spec{Type: Local, Dest: "out"}},
		{in: "-", want: Spec{Type: Tar, Dest: "-"}},
		{in: "type=local,dest=/tmp/x", want: Spec{Type: Local, Dest: "/tmp/x"}},
		{in: "type=tar,dest=-", want: Spec{Type: Tar, Dest: "-"}},
		{in: "type=oci,dest=a.tar", want: Spec{Type: OCI, Dest: "a.tar"}},
		{in: "type=docker,dest=a.tar,name=app:1", want: Spec{Type: Docker, Dest: "a.tar", Names: []string{"app:1"}}},
		{in: `type=local,"dest=a,b"`, want: Spec{Type: Local, Dest: "a,b"}},
		{in: "", err: "empty"},
		{in: "type=image", err: `type "image" is not supported`},
		{in: "type=local", err: "dest= is required"},
		{in: "dest=x", err: "type= is required"},
		{in: "type=local,dest=-", err: "needs a directory"},
		{in: "type=tar,dest=x,compression=gzip", err: `unknown key "compression"`},
		{in: "type=tar,dest", err: "not key=value"},
		{in: "type=docker,dest=x,name=Bad:Name", err: "name"},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q): error %v, want one with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"out", "-", "type=local,dest=x", `type=tar,"dest=a,b"`, "type=docker,dest=f,name=a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		if sp.Dest == "" || sp.Type == "" {
			t.Fatalf("Parse(%q) = %+v without error", s, sp)
		}
	})
}

// image makes a stored image of two layers: the second overwrites a file,
// deletes one (a whiteout) and adds a file owned by 1000:1000.
func testImage(t *testing.T) (*store.Store, image.Source) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	im := storetest.Image(t, st, nil, "app:1",
		testutil.Tar(t, testutil.Dir("etc/"), testutil.File("etc/a", "old"), testutil.File("etc/gone", "x"),
			testutil.Symlink("etc/link", "a")),
		testutil.Tar(t, testutil.Dir("etc/"), testutil.File("etc/a", "new"), testutil.Whiteout("etc/gone"),
			testutil.Dir("home/"), testutil.Entry{Name: "home/u/", Type: tar.TypeDir, Mode: 0o700, UID: 1000, GID: 1000},
			testutil.Entry{Name: "home/u/f", Body: "u", Type: tar.TypeReg, Mode: 0o600, UID: 1000, GID: 1000}),
	)
	return st, storetest.Source(t, st, im)
}

func TestWriteLocal(t *testing.T) {
	_, src := testImage(t)
	dest := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	// What dest holds already stays, as with buildx.
	os.WriteFile(filepath.Join(dest, "mine"), []byte("m"), 0o644)
	if err := Write(context.Background(), Spec{Type: Local, Dest: dest}, src, nil, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dest {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		got = append(got, rel)
		return nil
	})
	want := []string{"etc", "etc/a", "etc/link", "home", "home/u", "home/u/f", "mine"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "etc/a")); string(b) != "new" {
		t.Errorf("etc/a = %q, want the top layer's", b)
	}
	fi, err := os.Stat(filepath.Join(dest, "home/u/f"))
	if err != nil {
		t.Fatal(err)
	}
	// buildx's local exporter gives the files to the user who built.
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() || fi.Mode().Perm() != 0o600 {
		t.Errorf("home/u/f: uid %d mode %v, want uid %d mode 0600", st.Uid, fi.Mode().Perm(), os.Getuid())
	}
}

func TestWriteTar(t *testing.T) {
	_, src := testImage(t)
	var b bytes.Buffer
	if err := Write(context.Background(), Spec{Type: Tar, Dest: Stdout}, src, nil, &b); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&b)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		if h.Name == "home/u/f" && (h.Uid != 1000 || h.Gid != 1000) {
			t.Errorf("home/u/f owned by %d:%d in the tar, want the image's 1000:1000", h.Uid, h.Gid)
		}
	}
	sort.Strings(got)
	want := []string{"etc/", "etc/a", "etc/link", "home/", "home/u/", "home/u/f"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

// The archives read back as the same image: by strata's own reader, and by
// skopeo and umoci where they are installed.
func TestWriteArchives(t *testing.T) {
	_, src := testImage(t)
	dir := t.TempDir()
	for _, typ := range []string{OCI, Docker} {
		dest := filepath.Join(dir, typ+".tar")
		names := []image.Reference{mustRef(t, "example.com/app:1")}
		if err := Write(context.Background(), Spec{Type: typ, Dest: dest}, src, names, nil); err != nil {
			t.Fatal(err)
		}
		got, err := archive.OpenImage(dest, "")
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if got.Config().Digest != src.Config().Digest || len(got.Layers()) != 2 {
			t.Errorf("%s: image %s with %d layers, want %s with 2", typ, got.Config().Digest, len(got.Layers()), src.Config().Digest)
		}
		if got.Name() != "example.com/app:1" {
			t.Errorf("%s: named %q", typ, got.Name())
		}
		got.Close()
		if _, err := exec.LookPath("skopeo"); err == nil {
			transport := map[string]string{OCI: "oci-archive:", Docker: "docker-archive:"}[typ]
			out, err := exec.Command("skopeo", "inspect", "--config", transport+dest).CombinedOutput()
			if err != nil || !strings.Contains(string(out), `"diff_ids"`) {
				t.Errorf("skopeo inspect %s: %v\n%s", typ, err, out)
			}
		}
	}
	if _, err := exec.LookPath("umoci"); err == nil {
		layout := filepath.Join(dir, "layout")
		os.MkdirAll(layout, 0o755)
		if out, err := exec.Command("tar", "-xf", filepath.Join(dir, "oci.tar"), "-C", layout).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		// umoci names an image by its org.opencontainers.image.ref.name (the tag).
		if out, err := exec.Command("umoci", "stat", "--image", layout+":1").CombinedOutput(); err != nil {
			t.Errorf("umoci stat: %v\n%s", err, out)
		}
	}
}

// A failed write leaves no file at dest.
func TestWriteFailureLeavesNothing(t *testing.T) {
	st, src := testImage(t)
	// Delete a layer blob from under the source.
	l := src.Layers()[1]
	if err := os.Remove(filepath.Join(st.Path(store.Blobs), "sha256", l.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "out.tar")
	if err := Write(context.Background(), Spec{Type: Tar, Dest: dest}, src, nil, nil); err == nil {
		t.Fatal("no error with a layer missing")
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}

func mustRef(t *testing.T, s string) image.Reference {
	r, err := image.ParseTagged(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
