// Package rootless runs strata for a user without root: Enter moves the
// process into a user namespace where the user is root (and its
// subordinate ids of /etc/subuid and /etc/subgid are 1..N), with a mount
// namespace of its own, as podman does; Current says what was entered
// (for the store's default paths and `strata info`).
package rootless

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The files newuidmap and newgidmap read the subordinate ranges from.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// Range is a range of subordinate ids: Start .. Start+Count-1.
type Range struct {
	Start, Count uint32
}

// String is the range as usermod's --add-subuids takes it.
func (r Range) String() string {
	if r.Count == 0 {
		return "none"
	}
	return fmt.Sprintf("%d-%d", r.Start, uint64(r.Start)+uint64(r.Count)-1)
}

// ParseSubIDs returns the first range of r (an /etc/subuid or
// /etc/subgid file: "NAME-OR-ID:START:COUNT" lines) that belongs to the
// user named name or with id id; ok is false when none does. A line that
// is not of that form is skipped, as shadow's tools skip it.
func ParseSubIDs(r io.Reader, name string, id uint32) (rg Range, ok bool, err error) {
	sc := bufio.NewScanner(r)
	want := strconv.FormatUint(uint64(id), 10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != name && f[0] != want) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32 {
			continue
		}
		return Range{Start: uint32(start), Count: uint32(count)}, true, nil
	}
	return Range{}, false, sc.Err()
}

// subIDs reads the user's range from file.
func subIDs(file, name string, id uint32) (Range, bool, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return Range{}, false, nil
	}
	if err != nil {
		return Range{}, false, err
	}
	defer f.Close()
	return ParseSubIDs(f, name, id)
}
