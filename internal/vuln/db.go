package vuln

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/strata-dev/strata/internal/atomicfile"
	"github.com/strata-dev/strata/internal/sbom"
)

// The db directory holds one OSV JSON file per advisory, under a
// directory per base ecosystem (DIR/Debian/DSA-5514-1.json,
// DIR/Go/GO-2023-2102.json), so that a scan reads only the ecosystems the
// image has. JSON files directly in DIR are read for every scan: a
// directory of records copied by hand works too.

// DefaultDir is the db directory when --db is not given:
// $XDG_CACHE_HOME/strata/osv (~/.cache/strata/osv).
func DefaultDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "strata", "osv"), nil
}

// DirOrDefault is the db directory for commands that match findings only
// when a database is there (image diff, the UI): dir when given, else the
// default one when it exists, else "".
func DirOrDefault(dir string) string {
	if dir != "" {
		return dir
	}
	def, err := DefaultDir()
	if err != nil {
		return ""
	}
	if _, err := os.Stat(def); err != nil {
		return ""
	}
	return def
}

// DB is the advisories of some ecosystems, indexed for matching.
type DB struct {
	index map[string]map[string][]affectedRef // base ecosystem -> package name -> entries
	// Advisories counts the records read.
	Advisories int
}

type affectedRef struct {
	adv *Advisory
	i   int // index in adv.Affected
}

// maxRecord caps one advisory file: the biggest OSV records are a few MB.
const maxRecord = 64 << 20

// Load reads the advisories of the given base ecosystems from dir. A file
// that is not an OSV record is one warning naming it; withdrawn
// advisories are left out. A missing dir is an error that says how to
// fill it.
func Load(dir string, ecosystems []string, warn func(string)) (*DB, error) {
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no advisory database at %s: load one with strata scan --db-import FILE.zip|DIR (an osv.dev export) or give --db", dir)
		}
		return nil, err
	}
	db := &DB{index: map[string]map[string][]affectedRef{}}
	want := map[string]bool{}
	for _, e := range ecosystems {
		want[e] = true
	}
	dirs := []string{dir}
	for _, e := range ecosystems {
		dirs = append(dirs, filepath.Join(dir, ecosystemDir(e)))
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			p := filepath.Join(d, e.Name())
			a, err := readRecord(p)
			if err != nil {
				warn(fmt.Sprintf("%s: %v", p, err))
				continue
			}
			db.add(a, want)
		}
	}
	return db, nil
}

func readRecord(p string) (*Advisory, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("more than %d bytes: not an advisory", maxRecord)
	}
	return ParseAdvisory(b)
}

func (db *DB) add(a *Advisory, want map[string]bool) {
	if a.Withdrawn != "" {
		return
	}
	db.Advisories++
	for i, af := range a.Affected {
		eco := baseEcosystem(af.Package.Ecosystem)
		if !want[eco] {
			continue
		}
		if db.index[eco] == nil {
			db.index[eco] = map[string][]affectedRef{}
		}
		n := indexName(eco, af.Package.Name)
		db.index[eco][n] = append(db.index[eco][n], affectedRef{a, i})
	}
}

// Ecosystems are the OSV base ecosystems of s's packages that have a
// version order ("Rocky Linux" for the rpm packages of a Rocky image):
// the db directories a scan of s reads.
func Ecosystems(s *sbom.SBOM) []string {
	seen := map[string]bool{}
	var out []string
	for i := range s.Packages {
		p := &s.Packages[i]
		base := osvBase(p, s.Distro)
		if comparators[p.Ecosystem] != nil && base != "" && !seen[base] {
			seen[base] = true
			out = append(out, base)
		}
	}
	return out
}

// safeName is an advisory id or an ecosystem as a file name.
var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ecosystemDir is the db directory of a base ecosystem: "Rocky Linux" ->
// "Rocky_Linux".
func ecosystemDir(base string) string { return safeName.ReplaceAllString(base, "_") }

// Import copies the OSV records of from (an osv.dev zip export, or a
// directory of JSON files, searched recursively) into dir, each under its
// ecosystems' directories. It returns the number of records imported;
// records that cannot be read are warnings.
func Import(dir, from string, warn func(string)) (int, error) {
	st, err := os.Stat(from)
	if err != nil {
		return 0, err
	}
	n := 0
	put := func(name string, r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
		if err != nil {
			return err
		}
		if len(b) > maxRecord {
			warn(fmt.Sprintf("%s: more than %d bytes: not an advisory", name, maxRecord))
			return nil
		}
		a, err := ParseAdvisory(b)
		if err != nil {
			warn(fmt.Sprintf("%s: %v", name, err))
			return nil
		}
		done := map[string]bool{}
		for _, af := range a.Affected {
			eco := ecosystemDir(baseEcosystem(af.Package.Ecosystem))
			if done[eco] {
				continue
			}
			done[eco] = true
			if err := writeAtomic(filepath.Join(dir, eco), safeName.ReplaceAllString(a.ID, "_")+".json", b); err != nil {
				return err
			}
		}
		n++
		return nil
	}
	if st.IsDir() {
		err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return put(p, f)
		})
		return n, err
	}
	zr, err := zip.OpenReader(from)
	if err != nil {
		return 0, fmt.Errorf("%s: not a zip of OSV records nor a directory: %w", from, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			warn(fmt.Sprintf("%s: %s: %v", from, f.Name, err))
			continue
		}
		err = put(from+":"+f.Name, rc)
		rc.Close()
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeAtomic writes name in dir through a temporary file and a rename,
// so that a scan never reads half a record.
func writeAtomic(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
