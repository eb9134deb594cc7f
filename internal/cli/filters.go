package cli

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// filterArgs is docker's --filter KEY=VALUE list: the values of one key
// are alternatives (any may match), different keys all must match.
type filterArgs map[string][]string

// parseFilters reads --filter values, refusing a key not in allowed with
// docker's words ("Invalid filter 'bogus'").
func parseFilters(vals []string, allowed ...string) (filterArgs, error) {
	f := filterArgs{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return nil, errdefs.Exit(exitUsage, fmt.Errorf("invalid argument %q for \"-f, --filter\" flag: bad format of filter (expected name=value)", v))
		}
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			//lint:ignore ST1005 docker's words, which scripts match
			return nil, errdefs.InvalidArgument(fmt.Errorf("Invalid filter '%s'", k))
		}
		f[k] = append(f[k], val)
	}
	return f, nil
}

// match tells whether the values of key let an object through: true when
// key is not filtered on, else whether fn accepts one of its values.
func (f filterArgs) match(key string, fn func(v string) bool) bool {
	vals, ok := f[key]
	if !ok {
		return true
	}
	for _, v := range vals {
		if fn(v) {
			return true
		}
	}
	return false
}

// matchLabel is docker's label=KEY or label=KEY=VALUE.
func matchLabel(labels map[string]string, v string) bool {
	k, want, hasValue := strings.Cut(v, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == want)
}

// checkBool refuses a dangling= value that is not a boolean, as docker
// does ("Invalid filter 'dangling=[maybe]'").
func (f filterArgs) checkBool(key string) error {
	for _, v := range f[key] {
		if _, err := strconv.ParseBool(v); err != nil {
			//lint:ignore ST1005 docker's words, which scripts match
			return errdefs.InvalidArgument(fmt.Errorf("Invalid filter '%s=[%s]'", key, v))
		}
	}
	return nil
}

// matchReference is docker's reference=PATTERN: a glob on the familiar
// name with its tag, or on the name alone when the pattern has no tag.
func matchReference(pattern, repo, tag string) bool {
	if repo == "<none>" {
		return false
	}
	name := repo
	if strings.Contains(pattern, ":") && !strings.HasSuffix(pattern, "/") {
		name = repo + ":" + tag
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// containerFilters are ps's --filter keys.
var containerFilters = []string{"id", "name", "label", "status", "ancestor", "exited", "before", "since", "health"}

var containerStatuses = map[string]bool{"created": true, "restarting": true, "running": true, "removing": true, "paused": true, "exited": true, "dead": true}

// containerMatcher returns whether a container passes ps's filters;
// before= and since= name containers, found in all.
func containerMatcher(f filterArgs, m *container.Manager, all []*container.Record) (func(*container.Record, container.State) bool, error) {
	for _, s := range f["status"] {
		if !containerStatuses[s] {
			//lint:ignore ST1005 docker's words, which scripts match
			return nil, errdefs.InvalidArgument(fmt.Errorf("Invalid filter 'status=%s'", s))
		}
	}
	if err := checkHealthFilter(f["health"]); err != nil {
		return nil, err
	}
	for _, s := range f["exited"] {
		if _, err := strconv.Atoi(s); err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid filter 'exited=%s'", s))
		}
	}
	var names []*regexp.Regexp
	for _, n := range f["name"] {
		re, err := regexp.Compile(n)
		if err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid filter 'name=%s': %v", n, err))
		}
		names = append(names, re)
	}
	created := func(ref string) (time.Time, error) {
		r, err := m.Get(ref)
		if err != nil {
			return time.Time{}, err
		}
		return r.Created, nil
	}
	var before, since time.Time
	var err error
	if v := f["before"]; len(v) > 0 {
		if before, err = created(v[0]); err != nil {
			return nil, err
		}
	}
	if v := f["since"]; len(v) > 0 {
		if since, err = created(v[0]); err != nil {
			return nil, err
		}
	}
	return func(r *container.Record, s container.State) bool {
		return f.match("id", func(v string) bool { return strings.HasPrefix(r.ID, v) }) &&
			(len(names) == 0 || anyMatch(names, r.Name)) &&
			f.match("label", func(v string) bool { return matchLabel(r.Config.Labels, v) }) &&
			f.match("status", func(v string) bool { return v == s.Status && !s.Paused || v == "paused" && s.Paused }) &&
			f.match("ancestor", func(v string) bool { return ancestorIs(m, r, v) }) &&
			f.match("health", func(v string) bool { return v == healthFilterValue(m, r, s) }) &&
			f.match("exited", func(v string) bool { return s.Status == container.Exited && v == strconv.Itoa(s.ExitCode) }) &&
			(before.IsZero() || r.Created.Before(before)) &&
			(since.IsZero() || r.Created.After(since))
	}, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// ancestorIs is docker's ancestor=IMAGE: the container's image is the one
// v names (by name or ID), or is built on it.
func ancestorIs(m *container.Manager, r *container.Record, v string) bool {
	im, err := m.St.Resolve(v)
	if err != nil {
		return false
	}
	for id := r.Image; id != ""; {
		if id == im.ID {
			return true
		}
		cur, err := m.St.Resolve(id.String())
		if err != nil {
			return false
		}
		id = cur.Parent
	}
	return false
}

// imageFilters are images' --filter keys.
var imageFilters = []string{"dangling", "reference", "label", "before", "since"}

// filterImages keeps the images that pass images' filters other than
// reference (which is on each name: filterReference).
func filterImages(st *store.Store, f filterArgs, imgs []*metadata.Image, names map[digest.Digest][]string) ([]*metadata.Image, error) {
	if len(f) == 0 {
		return imgs, nil
	}
	if err := f.checkBool("dangling"); err != nil {
		return nil, err
	}
	bound := func(key string) (time.Time, error) {
		v := f[key]
		if len(v) == 0 {
			return time.Time{}, nil
		}
		im, err := st.Resolve(v[0])
		if err != nil {
			return time.Time{}, err
		}
		return im.Created, nil
	}
	before, err := bound("before")
	if err != nil {
		return nil, err
	}
	since, err := bound("since")
	if err != nil {
		return nil, err
	}
	var out []*metadata.Image
	for _, im := range imgs {
		dangling := len(names[im.ID]) == 0
		ok := f.match("dangling", func(v string) bool { b, _ := strconv.ParseBool(v); return b == dangling }) &&
			(before.IsZero() || im.Created.Before(before)) &&
			(since.IsZero() || im.Created.After(since))
		if ok && len(f["label"]) > 0 {
			cfg, _, err := st.Config(im)
			if err != nil {
				return nil, err
			}
			ok = f.match("label", func(v string) bool { return matchLabel(cfg.Config.Labels, v) })
		}
		if ok {
			out = append(out, im)
		}
	}
	return out, nil
}

// filterReference keeps the rows of images whose name matches a
// reference= pattern.
func filterReference(f filterArgs, rows []any) []any {
	if len(f["reference"]) == 0 {
		return rows
	}
	var out []any
	for _, r := range rows {
		row := r.(imageRow)
		if f.match("reference", func(v string) bool { return matchReference(v, row.Repository, row.Tag) }) {
			out = append(out, r)
		}
	}
	return out
}

// pruneFilter is a prune's --filter: until=DURATION|TIME keeps what is
// newer; label=KEY[=VALUE] removes only what has the label, label!=
// keeps what has it.
type pruneFilter struct {
	until time.Time
	f     filterArgs
}

func parsePruneFilters(vals []string, now time.Time) (pruneFilter, error) {
	// "label!=KEY" cuts at its "=" into the key "label!".
	f, err := parseFilters(vals, "until", "label", "label!")
	if err != nil {
		return pruneFilter{}, err
	}
	p := pruneFilter{f: f}
	for _, v := range f["until"] {
		if p.until, err = parseTimeFlag("until", v, now); err != nil {
			return pruneFilter{}, errdefs.InvalidArgument(err)
		}
	}
	return p, nil
}

// keeps tells whether an object with labels stays, whatever its age.
func (p pruneFilter) keeps(labels map[string]string) bool {
	for _, v := range p.f["label"] {
		if !matchLabel(labels, v) {
			return true
		}
	}
	for _, v := range p.f["label!"] {
		if matchLabel(labels, v) {
			return true
		}
	}
	return false
}

func (p pruneFilter) byLabel() bool { return len(p.f["label"])+len(p.f["label!"]) > 0 }

// containerKeep is the Keep of container.Manager.Prune (nil: no label
// filter).
func (p pruneFilter) containerKeep() func(*container.Record) bool {
	if !p.byLabel() {
		return nil
	}
	return func(r *container.Record) bool { return p.keeps(r.Config.Labels) }
}

// imageKeep is the Keep of store.PruneOptions (nil: no label filter).
func (p pruneFilter) imageKeep(st *store.Store) func(*metadata.Image) bool {
	if !p.byLabel() {
		return nil
	}
	return func(im *metadata.Image) bool {
		cfg, _, err := st.Config(im)
		return err != nil || p.keeps(cfg.Config.Labels) // unreadable: kept
	}
}
