// Package containertest makes test images for container tests: a busybox
// root filesystem built in Go from Debian's busybox-static, as
// anchors/setup.sh make_busybox_rootfs builds it with the shell.
package containertest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// Busybox is the static busybox binary the rootfs is made of.
const Busybox = "/bin/busybox"

// Passwd and Group are the image's account files: root, and nobody with
// a supplementary group, for -u tests.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/sh\n"
	Group  = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n"
)

// RootfsTar returns an uncompressed tar of a busybox root filesystem:
// /bin/busybox, a symlink to it for every applet, the usual top-level
// directories (/tmp sticky) and /etc/passwd and /etc/group. It skips the
// test when busybox-static is not installed.
func RootfsTar(t testing.TB) []byte {
	t.Helper()
	bin, err := os.ReadFile(Busybox)
	if err != nil {
		t.Skipf("busybox-static is not installed: %v", err)
	}
	out, err := exec.Command(Busybox, "--list-full").Output()
	if err != nil {
		t.Fatalf("busybox --list-full: %v", err)
	}
	mtime := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	var mkdir func(d string, mode int64)
	mkdir = func(d string, mode int64) {
		if d == "." || d == "" || dirs[d] {
			return
		}
		mkdir(path.Dir(d), 0o755)
		dirs[d] = true
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}, nil)
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev", "var", "home/nobody"} {
		mkdir(d, 0o755)
	}
	mkdir("tmp", 0o1777)
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))}, bin)
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "bin/busybox" {
			continue
		}
		mkdir(path.Dir(a), 0o755)
		add(&tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644, Size: int64(len(Passwd))}, []byte(Passwd))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644, Size: int64(len(Group))}, []byte(Group))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// AddImage stores an image of the given layer tars (uncompressed) on top
// of parent (nil: from scratch), with config edits, named name.
func AddImage(t testing.TB, st *store.Store, parent *metadata.Image, name string, config func(*store.NewImageOptions), tars ...[]byte) *metadata.Image {
	t.Helper()
	o := store.NewImageOptions{Parent: parent}
	for i, tb := range tars {
		b, err := layer.Ingest(st.Content, bytes.NewReader(tb), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.IngestLayer(b, store.LayerMediaType(b.Compression))
		if err != nil {
			t.Fatal(err)
		}
		o.Steps = append(o.Steps, store.NewLayer{Blob: &rec})
		o.Steps[len(o.Steps)-1].History.CreatedBy = fmt.Sprintf("layer %d", i)
	}
	if config != nil {
		config(&o)
	}
	if name != "" {
		if err := st.Tag(mustImage(t, st, o).ID, mustRef(t, name)); err != nil {
			t.Fatal(err)
		}
		im, err := st.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	return mustImage(t, st, o)
}

func mustImage(t testing.TB, st *store.Store, o store.NewImageOptions) *metadata.Image {
	t.Helper()
	im, err := st.NewImage(o)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// Busybox stores the busybox image as name (CMD sh, PATH set).
func BusyboxImage(t testing.TB, st *store.Store, name string) *metadata.Image {
	t.Helper()
	return AddImage(t, st, nil, name, func(o *store.NewImageOptions) {
		o.Config = func(c *imageConfig) error {
			c.Config.Cmd = []string{"sh"}
			c.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
			return nil
		}
	}, RootfsTar(t))
}

type imageConfig = image.ConfigFile

func mustRef(t testing.TB, name string) image.Reference {
	t.Helper()
	r, err := image.ParseTagged(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
