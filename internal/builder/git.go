package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/util/gitutil"
	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/builder/buildctx"
	"github.com/strata-dev/strata/internal/errdefs"
)

// gitSrc is an ADD source that is a git repository, as BuildKit's
// Dockerfile front end reads one: URL[#ref[:subdir]], with the query
// options ref, tag, branch, subdir, keep-git-dir, submodules,
// checksum/commit, mtime.
type gitSrc struct {
	raw     string // as written
	remote  string // what git is given
	ref     string // as asked ("" for HEAD)
	subdir  string
	keep    bool
	noSubs  bool   // ?submodules=false: the submodules stay empty
	mtime   string // "checkout" (default) or "commit"
	want    string // --checksum or ?checksum=: the commit it must be
	commit  string // resolved
	refName string // the full ref name the commit was resolved from
}

// display names the source in messages and in the cache's explanation.
func (g *gitSrc) display() string {
	ref := g.ref
	if ref == "" {
		ref = "HEAD"
	}
	return g.remote + "#" + ref
}

// keyLine is what the cache key holds for the source.
func (g *gitSrc) keyLine() string {
	return fmt.Sprintf("git\x00%s\x00%s\x00%s\x00%s\x00%t\x00%s\x00submodules=%t", g.remote, g.ref, g.commit, g.subdir, g.keep, g.mtime, !g.noSubs)
}

// gitKeyName is the source's name among a key's files: a miss names it as
// "git ref X moved from A to B".
func (g *gitSrc) gitKeyName() string { return "git ref " + g.display() }

// parseGitSource tells whether an ADD source is a git repository, as
// BuildKit's isGitSource does (dfgitutil.ParseGitRef): a git://, ssh://
// or SCP-like (git@host:path) URL, or an http(s) URL whose path ends in
// .git. BuildKit accepts no file:// git sources, and neither does this.
func parseGitSource(src string) (*gitSrc, bool, error) {
	if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") || strings.HasPrefix(src, "/") {
		return nil, false, nil
	}
	u, err := gitutil.ParseURL(src)
	if err != nil {
		return nil, false, nil
	}
	if (u.Scheme == gitutil.HTTPProtocol || u.Scheme == gitutil.HTTPSProtocol) && !strings.HasSuffix(u.Path, ".git") {
		return nil, false, nil
	}
	g := &gitSrc{raw: src, remote: u.Remote}
	if u.Opts != nil {
		g.ref, g.subdir = u.Opts.Ref, u.Opts.Subdir
	}
	var tag, branch string
	for k, v := range u.Query {
		if len(v) > 1 {
			return nil, true, fmt.Errorf("query %q has multiple values", k)
		}
		val := ""
		if len(v) == 1 {
			val = v[0]
		}
		flag := func() (bool, error) {
			if val == "" {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, fmt.Errorf("invalid %s value: %q", k, val)
			}
			return b, nil
		}
		if val == "" && k != "keep-git-dir" && k != "submodules" {
			return nil, true, fmt.Errorf("query %q has no value", k)
		}
		switch k {
		case "ref":
			if g.ref != "" && g.ref != val {
				return nil, true, fmt.Errorf("ref conflicts: %q vs %q", g.ref, val)
			}
			g.ref = val
		case "tag":
			tag = val
		case "branch":
			branch = val
		case "subdir":
			val = strings.TrimPrefix(path.Join("/", val), "/")
			if g.subdir != "" && g.subdir != val {
				return nil, true, fmt.Errorf("subdir conflicts: %q vs %q", g.subdir, val)
			}
			g.subdir = val
		case "checksum", "commit":
			g.want = val
		case "keep-git-dir":
			b, err := flag()
			if err != nil {
				return nil, true, err
			}
			g.keep = b
		case "submodules":
			b, err := flag()
			if err != nil {
				return nil, true, err
			}
			g.noSubs = !b
		case "mtime":
			if val != "checkout" && val != "commit" {
				return nil, true, fmt.Errorf("invalid mtime value: %q (must be \"checkout\" or \"commit\")", val)
			}
			g.mtime = val
		default:
			return nil, true, fmt.Errorf("unexpected query %q", k)
		}
	}
	if tag != "" && branch != "" {
		return nil, true, errors.New("branch conflicts with tag")
	}
	for _, p := range []struct{ v, prefix string }{{tag, "refs/tags/"}, {branch, "refs/heads/"}} {
		if p.v == "" {
			continue
		}
		r := p.v
		if !strings.HasPrefix(r, p.prefix) {
			r = p.prefix + r
		}
		if g.ref != "" && g.ref != r {
			return nil, true, fmt.Errorf("ref conflicts: %q vs %q", g.ref, r)
		}
		g.ref = r
	}
	return g, true, nil
}

func isCommitID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// runGit runs git with no prompts; its error is one line: git's
// messages joined.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_ASKPASS=true")
	if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
		cmd.Env = append(cmd.Env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("git sources need the git program, which is not installed")
		}
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if len(msg) > 400 {
			msg = msg[:400] + "..."
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return stdout.String(), nil
}

// resolveGit finds the commit the source's ref names, with git ls-remote:
// nothing is fetched, so an unchanged ref is a cache hit.
func (s *stage) resolveGit(ctx context.Context, g *gitSrc, keep *bool, checksum string) error {
	if keep != nil {
		g.keep = *keep
	}
	if checksum != "" {
		g.want = checksum
	}
	if isCommitID(g.ref) {
		g.commit, g.refName = g.ref, g.ref
	} else {
		ref := g.ref
		if ref == "" {
			ref = "HEAD"
		}
		out, err := runGit(ctx, s.b.tmp, "ls-remote", "--", g.remote, ref, ref+"^{}")
		if err != nil {
			return fmt.Errorf("%s: %w", g.remote, err)
		}
		refs := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if sha, name, ok := strings.Cut(strings.TrimSpace(l), "\t"); ok {
				refs[name] = sha
			}
		}
		cands := []string{ref}
		if !strings.HasPrefix(ref, "refs/") && ref != "HEAD" {
			cands = append(cands, "refs/"+ref, "refs/tags/"+ref, "refs/heads/"+ref)
		}
		for _, c := range cands {
			if sha, ok := refs[c]; ok {
				g.refName, g.commit = c, sha
				if peeled, ok := refs[c+"^{}"]; ok {
					g.commit = peeled // an annotated tag: its commit
				}
				break
			}
		}
		if g.commit == "" {
			return fmt.Errorf("git ref %q not found in %s", ref, g.remote)
		}
	}
	if g.want != "" && !strings.HasPrefix(g.commit, g.want) {
		return fmt.Errorf("%s: checksum mismatch: want commit %s, got %s", g.display(), g.want, g.commit)
	}
	return nil
}

// fetchGit fetches the resolved commit (shallow) into the build's temp
// dir and returns it as a directory source: .git dropped unless kept,
// modes as git gives them (0644 or 0755, whatever the umask), mtimes the
// checkout's (or the commit's with ?mtime=commit), as BuildKit's.
func (s *stage) fetchGit(ctx context.Context, g *gitSrc) (srcItem, error) {
	dir, err := os.MkdirTemp(s.b.tmp, "git-")
	if err != nil {
		return srcItem{}, err
	}
	fail := func(err error) (srcItem, error) { return srcItem{}, fmt.Errorf("%s: %w", g.display(), err) }
	steps := [][]string{
		{"init", "-q"},
		{"remote", "add", "origin", g.remote},
		{"fetch", "-q", "--depth", "1", "--no-tags", "origin", g.refName},
	}
	for _, a := range steps {
		if _, err := runGit(ctx, dir, a...); err != nil {
			return fail(err)
		}
	}
	got, err := runGit(ctx, dir, "rev-parse", "FETCH_HEAD^{commit}")
	if err != nil {
		return fail(err)
	}
	if strings.TrimSpace(got) != g.commit {
		return fail(fmt.Errorf("ref moved while fetching (%s, now %s): build again", short12(g.commit), short12(strings.TrimSpace(got))))
	}
	if _, err := runGit(ctx, dir, "checkout", "-q", g.commit); err != nil {
		return fail(err)
	}
	// Submodules, at the commits the checkout names (so the commit ID is
	// still the whole key), as BuildKit fetches them unless told not to.
	// Relative URLs resolve against the remote.
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err == nil && !g.noSubs {
		if _, err := runGit(ctx, dir, "submodule", "update", "-q", "--init", "--recursive", "--depth", "1"); err != nil {
			return fail(err)
		}
	}
	var mtime time.Time
	if g.mtime == "commit" {
		out, err := runGit(ctx, dir, "log", "-1", "--format=%ct", g.commit)
		if err != nil {
			return fail(err)
		}
		sec, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		mtime = time.Unix(sec, 0)
	}
	if !g.keep {
		// The repository's .git and each submodule's (a file naming the
		// repository's, which no longer exists): git refuses ".git" as a
		// name in a tree, so no other file has it.
		var gits []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Name() == ".git" {
				gits = append(gits, p)
				if d.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		for _, p := range gits {
			if err := os.RemoveAll(p); err != nil {
				return fail(err)
			}
		}
	}
	// git writes files through the umask: make the modes git's own.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if !mtime.IsZero() {
				return lchtimes(p, mtime)
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() || info.Mode()&0o100 != 0 {
			mode = 0o755
		}
		if info.Mode().Perm() != mode {
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
		}
		if !mtime.IsZero() && p != dir {
			return os.Chtimes(p, mtime, mtime)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	root := &buildctx.FS{Root: dir}
	e, err := root.Stat(g.subdir)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fail(fmt.Errorf("subdirectory %q not found", g.subdir))
		}
		return fail(err)
	}
	if !e.IsDir() {
		return fail(fmt.Errorf("%q is not a directory", g.subdir))
	}
	return srcItem{fs: root, rel: e.Rel, e: e}, nil
}

func lchtimes(p string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// gitSourceSum is the checksum line of a git source for the cache key.
func gitSourceSum(g *gitSrc) string {
	sum := sha256.Sum256([]byte(g.keyLine()))
	return hex.EncodeToString(sum[:])
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
