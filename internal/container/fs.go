package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/atomicfile"
	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/layer"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/snapshot"
	"github.com/strata-dev/strata/internal/store"
)

// Diff lists the container's changes as docker diff does, as its
// snapshot's driver reads them.
func (m *Manager) Diff(r *Record) ([]layer.Change, error) {
	return m.SN.Changes(r.Snapshot, layer.DiffOptions{Exclude: r.excluded()})
}

// CommitOptions are the options of commit.
type CommitOptions struct {
	Changes []string // -c Dockerfile instructions
	Message string
	Author  string
	Ref     string // NAME[:TAG], optional
	Pause   bool
}

// Commit makes an image of the container: its image's layers and one
// more holding the container's changes (OCI whiteouts and opaque dirs),
// with the container's config, the -c changes and a history entry. The
// layer is stored uncompressed: the tar is written once, straight into
// the blob store, with no CPU spent compressing what stays on this disk
// (as docker and podman keep their layers); push compresses it.
func (m *Manager) Commit(r *Record, o CommitOptions) (*metadata.Image, error) {
	var names []image.Reference
	if o.Ref != "" {
		ref, err := image.ParseTagged(o.Ref)
		if err != nil {
			return nil, err
		}
		names = append(names, ref)
	}
	var probe image.ContainerConfig
	if err := changes.Apply(&probe, o.Changes); err != nil {
		return nil, err
	}
	parent, err := m.St.Image(r.Image)
	if err != nil {
		return nil, err
	}
	if o.Pause && m.State(r.ID).Status == Running {
		if rt, err := m.runtime(); err == nil && rt.Pause(r.ID) == nil {
			defer rt.Resume(r.ID)
		}
	}
	lock, err := m.St.Writing()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	pr, pw := io.Pipe()
	opts := layer.DiffOptions{Exclude: r.excluded()}
	go func() {
		pw.CloseWithError(m.SN.WriteDiff(pw, r.Snapshot, opts))
	}()
	rec, err := m.St.WriteLayer(pr, "", -1, "")
	pr.CloseWithError(err)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	c := r.Config
	createdBy := strings.Join(c.Args(), " ")
	return m.St.NewImage(store.NewImageOptions{
		Parent: parent,
		Steps:  []store.NewLayer{{Blob: &rec, History: ocispec.History{CreatedBy: createdBy, Author: o.Author, Comment: o.Message}}},
		Config: func(cfg *image.ConfigFile) error {
			// The container's own config becomes the image's, as docker
			// commit does (run -e, --entrypoint, -w, -u are kept).
			cfg.Config.Env, cfg.Config.Entrypoint, cfg.Config.Cmd = c.Env, c.Entrypoint, c.Cmd
			cfg.Config.WorkingDir, cfg.Config.User = c.WorkingDir, c.User
			cfg.Author, cfg.Comment, cfg.Container = o.Author, o.Message, r.ID
			return changes.Apply(&cfg.Config, o.Changes)
		},
		Names: names,
	})
}

// withRootfs calls fn with the container's whole filesystem: where it is
// mounted while it runs, else mounted for the call.
func (m *Manager) withRootfs(r *Record, fn func(root string) error) error {
	if m.State(r.ID).Status == Running && snapshot.Mounted(m.Rootfs(r.ID)) {
		return fn(m.Rootfs(r.ID))
	}
	ms, err := m.SN.Mounts(r.Snapshot)
	if err != nil {
		return err
	}
	return snapshot.WithMounted(ms, m.Dir(r.ID), fn)
}

// Export writes the container's filesystem as one tar, without what the
// runtime mounts (the files and mount points at RuntimePaths are there,
// empty, as in docker's export).
func (m *Manager) Export(r *Record, w io.Writer) error {
	return m.withRootfs(r, func(root string) error {
		return layer.WriteTree(w, root, layer.DiffOptions{})
	})
}

// CopyFrom copies the container path src to the host path dst as docker
// cp does: into dst when it is a directory, else to dst. Symlinks inside
// the container are resolved inside it; the copied tree's symlinks (src
// itself too, as in docker) are copied, never followed.
func (m *Manager) CopyFrom(r *Record, src, dst string) error {
	return m.withRootfs(r, func(root string) error {
		rel, err := resolveIn(root, src, false, false)
		if err != nil {
			return fmt.Errorf("could not find the file %s in container %s", src, r.Name)
		}
		if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
			dst = filepath.Join(dst, filepath.Base(filepath.Join("/", rel)))
		} else if err := atomicfile.CheckPath(dst); err != nil {
			return err // docker's words: its directory does not exist
		}
		croot, err := os.OpenRoot(root)
		if err != nil {
			return err
		}
		defer croot.Close()
		return copyOut(croot, rel, dst)
	})
}

// copyOut copies rel of the container root to the host path dst. Every
// read goes through os.Root: nothing outside the container is read even
// if the container changes its files meanwhile.
func copyOut(croot *os.Root, rel, dst string) error {
	fi, err := croot.Lstat(rel)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		l, err := croot.Readlink(rel)
		if err != nil {
			return err
		}
		os.Remove(dst)
		return os.Symlink(l, dst)
	case fi.IsDir():
		if err := os.MkdirAll(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		d, err := croot.Open(rel)
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := copyOut(croot, filepath.Join(rel, n), filepath.Join(dst, n)); err != nil {
				return err
			}
		}
		return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	case fi.Mode().IsRegular():
		in, err := croot.OpenFile(rel, os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
		if err := copyAndClose(out, err, in); err != nil {
			return err
		}
		return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	}
	return nil // devices, fifos and sockets are not copied out
}

// CopyTo copies the host path src into the container at dst, as docker
// cp does. The destination is resolved inside the container; files are
// created through os.Root, so a symlink in the container can never make
// the copy write outside it.
func (m *Manager) CopyTo(r *Record, src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	return m.withRootfs(r, func(root string) error {
		rel, err := resolveIn(root, dst, true, true)
		if err != nil {
			return err
		}
		croot, err := os.OpenRoot(root)
		if err != nil {
			return err
		}
		defer croot.Close()
		if st, err := croot.Stat(rel); err == nil && st.IsDir() {
			rel = filepath.Join(rel, filepath.Base(src))
		} else if errors.Is(err, os.ErrNotExist) {
			if _, err := croot.Stat(filepath.Dir(rel)); err != nil {
				return fmt.Errorf("could not find the directory %s in container %s", filepath.Dir(dst), r.Name)
			}
		}
		return copyIn(croot, src, rel, fi)
	})
}

// copyIn copies the host path src to rel in the container, keeping what
// docker's cp keeps of each file (it moves a tar): its mode exactly (no
// umask), its owner's numbers and its modification time, a directory's
// set once its contents are in.
func copyIn(croot *os.Root, src, rel string, fi os.FileInfo) error {
	if err := copyInData(croot, src, rel, fi); err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st != nil {
		if err := croot.Lchown(rel, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil // os.Root has no Lchtimes; docker's time of a link is not kept here
	}
	if err := croot.Chmod(rel, fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return err
	}
	return croot.Chtimes(rel, fi.ModTime(), fi.ModTime())
}

// copyInData makes rel as src is: a link, a directory with its contents, or
// a file with its bytes.
func copyInData(croot *os.Root, src, rel string, fi os.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return err
		}
		croot.Remove(rel)
		return croot.Symlink(l, rel)
	case fi.IsDir():
		if err := croot.Mkdir(rel, fi.Mode().Perm()); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			efi, err := e.Info()
			if err != nil {
				return err
			}
			if err := copyIn(croot, filepath.Join(src, e.Name()), filepath.Join(rel, e.Name()), efi); err != nil {
				return err
			}
		}
		return nil
	case fi.Mode().IsRegular():
		// Replace rather than write through what is there: a symlink at
		// rel is not followed.
		if st, err := croot.Lstat(rel); err == nil && !st.IsDir() {
			croot.Remove(rel)
		}
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := croot.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
		return copyAndClose(out, err, in)
	}
	return fmt.Errorf("%s: cannot copy this kind of file", src)
}

// copyAndClose copies in into out, just opened with openErr, and closes it:
// the one place where cp moves a file's bytes, in either direction.
func copyAndClose(out *os.File, openErr error, in io.Reader) error {
	if openErr != nil {
		return openErr
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ArchiveFrom writes the container path src to w as a tar whose top entry
// is src's base name, as `docker cp CONTAINER:SRC -` does: owners, modes
// and times as they are in the container. Like CopyFrom it reads through
// os.Root, and a symlink src is written as the link.
func (m *Manager) ArchiveFrom(r *Record, src string, w io.Writer) error {
	return m.withRootfs(r, func(root string) error {
		rel, err := resolveIn(root, src, false, false)
		if err != nil {
			return fmt.Errorf("could not find the file %s in container %s", src, r.Name)
		}
		croot, err := os.OpenRoot(root)
		if err != nil {
			return err
		}
		defer croot.Close()
		tw := tar.NewWriter(w)
		if err := archiveOut(tw, croot, rel, filepath.Base(filepath.Join("/", rel))); err != nil {
			return err
		}
		return tw.Close()
	})
}

// archiveOut writes rel of the container root, and what is below, under
// the name name.
func archiveOut(tw *tar.Writer, croot *os.Root, rel, name string) error {
	fi, err := croot.Lstat(rel)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = croot.Readlink(rel); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil // sockets: a tar cannot hold them
	}
	hdr.Name, hdr.Uname, hdr.Gname = name, "", ""
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	switch {
	case fi.Mode().IsRegular():
		f, err := croot.Open(rel)
		if err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, hdr.Size)
		f.Close()
		return err
	case fi.IsDir():
		d, err := croot.Open(rel)
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if err := archiveOut(tw, croot, filepath.Join(rel, n), name+"/"+n); err != nil {
				return err
			}
		}
	}
	return nil
}

// ExtractTo extracts the tar read from tr into the container directory
// dst, as `docker cp - CONTAINER:DST` does; dst must be a directory. The
// tar goes through layer.Apply, so no entry lands outside dst.
func (m *Manager) ExtractTo(ctx context.Context, r *Record, dst string, tr io.Reader) error {
	notDir := fmt.Errorf("destination %q must be a directory", r.Name+":"+dst)
	return m.withRootfs(r, func(root string) error {
		rel, err := resolveIn(root, dst, true, false)
		if err != nil {
			return notDir
		}
		if fi, err := os.Lstat(filepath.Join(root, rel)); err != nil || !fi.IsDir() {
			return notDir
		}
		_, err = layer.Apply(ctx, filepath.Join(root, rel), tr, layer.ApplyOptions{})
		return err
	})
}
