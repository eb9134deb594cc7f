package container

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestResolveUserAsDocker: the ids and groups a process gets for -u, as
// docker 20.10 gave them to `id` in a busybox container whose /etc/passwd
// and /etc/group had bob (1001) in g1 and g2:
//
//	-u 1000:1000 -> uid=1000 gid=1000 groups=1000
//	-u 1000      -> uid=1000 gid=0(root) groups=0(root)
//	-u bob       -> uid=1001(bob) gid=1001 groups=1001,2001(g1),2002(g2)
//	-u bob:2001  -> uid=1001(bob) gid=2001(g1) groups=2001(g1)
//	-u bob:g2    -> uid=1001(bob) gid=2002(g2) groups=2002(g2)
//	-u 1001      -> uid=1001(bob) gid=1001 groups=1001,2001(g1),2002(g2)
//	-u root      -> uid=0(root) gid=0(root) groups=0(root),10(wheel)
//
// and `docker run` with no -u of an image with those files gave root's
// groups=0(root),10(wheel) too.
func TestResolveUserAsDocker(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n"
	group := "root:x:0:\nwheel:x:10:root\ng1:x:2001:bob\ng2:x:2002:bob,daemon\n"
	for name, body := range map[string]string{"etc/passwd": passwd, "etc/group": group} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		spec     string
		uid, gid uint32
		groups   []uint32
	}{
		{"1000:1000", 1000, 1000, []uint32{1000}},
		{"1000", 1000, 0, []uint32{0}},
		{"bob", 1001, 1001, []uint32{1001, 2001, 2002}},
		{"bob:2001", 1001, 2001, []uint32{2001}},
		{"bob:g2", 1001, 2002, []uint32{2002}},
		{"1001", 1001, 1001, []uint32{1001, 2001, 2002}},
		{"root", 0, 0, []uint32{0, 10}},
		{"", 0, 0, []uint32{0, 10}},
	} {
		u, err := resolveUser(root, tc.spec, nil)
		if err != nil {
			t.Errorf("-u %q: %v", tc.spec, err)
			continue
		}
		if u.UID != tc.uid || u.GID != tc.gid || !reflect.DeepEqual(u.Groups, tc.groups) {
			t.Errorf("-u %q: uid %d gid %d groups %v; docker: %d %d %v", tc.spec, u.UID, u.GID, u.Groups, tc.uid, tc.gid, tc.groups)
		}
	}
}
