// Package containertest makes test images for container tests: the busybox
// root filesystem of testutil.BusyboxRootfs stored as an image.
package containertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// AddImage stores an image of the given layer tars (uncompressed) on top
// of parent (nil: from scratch), with config edits, named name.
func AddImage(t testing.TB, st *store.Store, parent *metadata.Image, name string, config func(*store.NewImageOptions), tars ...[]byte) *metadata.Image {
	t.Helper()
	o := store.NewImageOptions{Parent: parent}
	for i, tb := range tars {
		rec := storetest.AddLayer(t, st, tb)
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

// BusyboxImage stores the busybox image as name (CMD sh, PATH set).
func BusyboxImage(t testing.TB, st *store.Store, name string) *metadata.Image {
	t.Helper()
	return AddImage(t, st, nil, name, busyboxConfig(""), testutil.BusyboxTar(t))
}

func busyboxConfig(arch string) func(o *store.NewImageOptions) {
	return func(o *store.NewImageOptions) {
		if arch != "" {
			// The same image ID in every store (a remote cache's keys
			// hold base image IDs).
			o.Created = &fixedTime
		}
		o.Config = func(c *image.ConfigFile) error {
			c.Config.Cmd = []string{"sh"}
			c.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
			if arch != "" {
				c.OS, c.Architecture = "linux", arch
			}
			return nil
		}
	}
}

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// MultiBusyboxImage stores name as a multi-platform busybox image of
// linux/amd64 (this machine's busybox-static) and linux/arm64 (Debian's
// arm64 busybox-static, see testutil.BusyboxRootfsFor).
func MultiBusyboxImage(t testing.TB, st *store.Store, name string) *metadata.Index {
	t.Helper()
	amd := AddImage(t, st, nil, "", busyboxConfig("amd64"), testutil.BusyboxTar(t))
	arm := AddImage(t, st, nil, "", busyboxConfig("arm64"), testutil.Tar(t, testutil.BusyboxRootfsFor(t, "arm64")...))
	ix, err := st.PutIndex([]*metadata.Image{amd, arm}, []image.Reference{mustRef(t, name)})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func mustRef(t testing.TB, name string) image.Reference {
	t.Helper()
	r, err := image.ParseTagged(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
