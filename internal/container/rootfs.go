package container

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/rootpath"
)

// DefaultPath is PATH in a process whose image sets none, as docker and
// BuildKit make it.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// resolveIn returns the path (relative to root, "." for root itself) that
// p names inside the container filesystem at root, as the container would
// see it (see package rootpath), so the result never leads out of root.
// With followLast false a final symlink is not followed. A missing
// component is fs.ErrNotExist, unless missingOK: then the rest of p is
// appended as it is (for a path about to be created).
func resolveIn(root, p string, followLast, missingOK bool) (string, error) {
	return rootpath.Resolve(rootpath.Dir(root), p, rootpath.Options{FollowLast: followLast, MissingOK: missingOK})
}

// lookPath finds the program a container runs: a name with a slash is a
// path (from cwd when relative), else searched in the container's PATH.
// The errors are docker's, with its exit codes: 127 for not found, 126
// for not executable.
func lookPath(root, name, cwd string, env []string) (string, int, error) {
	check := func(p string) (int, error) {
		rel, err := resolveIn(root, p, true, false)
		if err != nil {
			return 127, err
		}
		fi, err := os.Stat(root + "/" + rel)
		if err != nil {
			return 127, err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return 126, fmt.Errorf("permission denied")
		}
		return 0, nil
	}
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(cwd, p)
		}
		if code, err := check(p); err != nil {
			if code == 127 {
				err = fmt.Errorf("stat %s: no such file or directory", name)
			}
			return "", code, fmt.Errorf("exec: %q: %w", name, err)
		}
		return name, 0, nil
	}
	pathEnv := DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	denied := false
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		if !path.IsAbs(p) {
			p = path.Join(cwd, p)
		}
		code, err := check(p)
		if err == nil {
			return name, 0, nil
		}
		denied = denied || code == 126
	}
	if denied {
		return "", 126, fmt.Errorf("exec: %q: permission denied", name)
	}
	return "", 127, fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// User is a resolved container user.
type User struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// readColonFile reads /etc/passwd or /etc/group of the container: one
// []string of fields per line.
func readColonFile(root, p string) ([][]string, error) {
	rel, err := resolveIn(root, p, true, false)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(root + "/" + rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out, sc.Err()
}

// groupID is a group given as a number or as a name in groups (the
// entries of /etc/group).
func groupID(groups [][]string, g string) (uint32, bool) {
	if n, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uint32(n), true
	}
	for _, e := range groups {
		if len(e) >= 3 && e[0] == g {
			n, err := strconv.ParseUint(e[2], 10, 32)
			return uint32(n), err == nil
		}
	}
	return 0, false
}

// resolveUser turns USER[:GROUP] (names or numbers) into IDs with the
// container's /etc/passwd and /etc/group, as docker does: a numeric user
// need not exist; a name must. The process's groups are, as docker gives
// them, its primary group, then (when no group was given and the user is
// in /etc/passwd) the groups that list the user, then add (--group-add:
// numbers or names; a missing name is an error, in docker's words).
func resolveUser(root, spec string, add []string) (User, error) {
	u := User{Home: "/"}
	if spec == "" {
		spec = "0"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	passwd, _ := readColonFile(root, "/etc/passwd")
	groups, _ := readColonFile(root, "/etc/group")
	found := false
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID = uint32(n)
		for _, e := range passwd {
			if len(e) >= 6 && e[2] == name {
				name, found = e[0], true
				if g, err := strconv.ParseUint(e[3], 10, 32); err == nil {
					u.GID = uint32(g)
				}
				u.Home = e[5]
				break
			}
		}
	} else {
		for _, e := range passwd {
			if len(e) >= 6 && e[0] == name {
				uid, err1 := strconv.ParseUint(e[2], 10, 32)
				gid, err2 := strconv.ParseUint(e[3], 10, 32)
				if err1 != nil || err2 != nil {
					return u, fmt.Errorf("invalid passwd entry for user %s", name)
				}
				u.UID, u.GID, u.Home, found = uint32(uid), uint32(gid), e[5], true
				break
			}
		}
		if !found {
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
		}
	}
	if hasGroup {
		g, ok := groupID(groups, group)
		if !ok {
			return u, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
		}
		u.GID = g
	}
	u.Groups = []uint32{u.GID}
	if found && !hasGroup {
		for _, e := range groups {
			if len(e) < 4 {
				continue
			}
			for _, member := range strings.Split(e[3], ",") {
				if member == name {
					if g, err := strconv.ParseUint(e[2], 10, 32); err == nil && uint32(g) != u.GID {
						u.Groups = append(u.Groups, uint32(g))
					}
				}
			}
		}
	}
	for _, a := range add {
		g, ok := groupID(groups, a)
		if !ok {
			return u, fmt.Errorf("Unable to find group %s: no matching entries in group file", a) //lint:ignore ST1005 docker's words
		}
		if !slices.Contains(u.Groups, g) {
			u.Groups = append(u.Groups, g)
		}
	}
	return u, nil
}
