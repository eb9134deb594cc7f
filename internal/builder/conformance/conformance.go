// Package conformance compares images built by strata with images built
// by docker from the same Dockerfile: the root filesystem the layers add
// up to (paths, types, modes, owners, sizes, contents, link targets, hard
// links; not times), the config fields a Dockerfile sets and the number of
// layers. The expected results are recorded from docker by
// testdata/conformance/record.sh, so the comparison runs without docker.
package conformance

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/strata-dev/strata/internal/image"
)

// Result is what is compared.
type Result struct {
	Layers int             `json:"layers"`
	Config json.RawMessage `json:"config"`
	// Files lists the differences of the final root filesystem from the
	// base image's: "+ path ..." for what is new or changed, "- path" for
	// what was removed.
	Files []string `json:"files"`
}

type node struct {
	typ   byte
	mode  int64
	uid   int
	gid   int
	size  int64
	sum   string
	link  string
	group *[]string
}

// FS is a root filesystem built from layer tars in memory.
type FS struct{ files map[string]*node }

// NewFS returns an empty filesystem.
func NewFS() *FS { return &FS{files: map[string]*node{}} }

// Apply adds one uncompressed layer tar, with OCI whiteouts.
func (f *FS) Apply(r io.Reader) error {
	tr := tar.NewReader(r)
	inLayer := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			for p := range f.files {
				if strings.HasPrefix(p, dir+"/") && !inLayer[p] {
					delete(f.files, p)
				}
			}
			continue
		case strings.HasPrefix(base, ".wh."):
			f.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		n := &node{typ: hdr.Typeflag, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid}
		switch hdr.Typeflag {
		//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
		case tar.TypeReg, tar.TypeRegA:
			n.typ = tar.TypeReg
			h := sha256.New()
			sz, err := io.Copy(h, tr)
			if err != nil {
				return err
			}
			n.size, n.sum = sz, hex.EncodeToString(h.Sum(nil))[:16]
		case tar.TypeLink:
			target := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			t, ok := f.files[target]
			if !ok {
				return fmt.Errorf("hard link %s to missing %s", name, target)
			}
			if t.group == nil {
				t.group = &[]string{target}
			}
			*t.group = append(*t.group, name)
			c := *t
			n = &c
		case tar.TypeSymlink:
			n.link = hdr.Linkname
		case tar.TypeDir:
			if old, ok := f.files[name]; ok && old.typ == tar.TypeDir {
				// A directory entry replaces metadata, not contents.
				f.files[name] = n
				inLayer[name] = true
				continue
			}
		}
		if old, ok := f.files[name]; ok && (old.typ == tar.TypeDir) != (n.typ == tar.TypeDir) {
			f.remove(name)
		}
		f.files[name] = n
		inLayer[name] = true
	}
}

func (f *FS) remove(p string) {
	delete(f.files, p)
	for q := range f.files {
		if strings.HasPrefix(q, p+"/") {
			delete(f.files, q)
		}
	}
}

// line describes a path, hard links by the first name of their group
// (sorted), so which name a tar wrote first does not matter.
func (f *FS) line(p string) string {
	n := f.files[p]
	var desc string
	switch n.typ {
	case tar.TypeReg:
		desc = fmt.Sprintf("file %04o %d:%d %d %s", n.mode, n.uid, n.gid, n.size, n.sum)
		if n.group != nil {
			var live []string
			for _, m := range *n.group {
				if o, ok := f.files[m]; ok && o.group == n.group {
					live = append(live, m)
				}
			}
			sort.Strings(live)
			if len(live) > 1 {
				desc += " hardlinks=" + strings.Join(live, ",")
			}
		}
	case tar.TypeDir:
		desc = fmt.Sprintf("dir %04o %d:%d", n.mode, n.uid, n.gid)
	case tar.TypeSymlink:
		desc = fmt.Sprintf("symlink %d:%d -> %s", n.uid, n.gid, n.link)
	default:
		desc = fmt.Sprintf("type%c %04o %d:%d", n.typ, n.mode, n.uid, n.gid)
	}
	return "/" + p + " " + desc
}

// Diff lists what f has that base has not (or differently), and what it
// lacks.
func (f *FS) Diff(base *FS) []string {
	var out []string
	for p := range f.files {
		l := f.line(p)
		if _, ok := base.files[p]; !ok || base.line(p) != l {
			out = append(out, "+ "+l)
		}
	}
	for p := range base.files {
		if _, ok := f.files[p]; !ok {
			out = append(out, "- /"+p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return out
}

// ConfigFields picks the config fields a Dockerfile sets, as JSON with
// sorted keys.
func ConfigFields(raw []byte) (json.RawMessage, error) {
	cf, err := image.ParseConfigFile(raw)
	if err != nil {
		return nil, err
	}
	c := cf.Config
	m := map[string]any{
		"Env": c.Env, "Cmd": c.Cmd, "Entrypoint": c.Entrypoint, "WorkingDir": c.WorkingDir,
		"User": c.User, "Labels": c.Labels, "ExposedPorts": c.ExposedPorts, "Volumes": c.Volumes,
		"StopSignal": c.StopSignal, "Healthcheck": c.Healthcheck, "Shell": c.Shell, "OnBuild": c.OnBuild,
	}
	for k, v := range m {
		b, _ := json.Marshal(v)
		if string(b) == "null" || string(b) == "{}" || string(b) == "[]" || string(b) == `""` {
			delete(m, k)
		}
	}
	b, err := json.MarshalIndent(m, "  ", "  ")
	return b, err
}
