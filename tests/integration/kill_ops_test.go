package integration

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/registry/registrytest"
)

// faultRounds is the number of kill -9 rounds per operation:
// $STRATA_FAULT_ROUNDS, else 8 (what `go test ./...` can afford; the
// issue's 100 is STRATA_FAULT_ROUNDS=100).
func faultRounds(t *testing.T) int {
	if s := os.Getenv("STRATA_FAULT_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("STRATA_FAULT_ROUNDS=%q: want a positive number", s)
		}
		return n
	}
	return 8
}

// killOp is one command killed at random moments; reset, when set, undoes
// what a finished run did, so that the next round has work to do again;
// prepare, when set, runs before each round.
type killOp struct {
	name           string
	args           func(round int) []string
	prepare, reset []string
}

// TestKillOperations kills build, pull, push, commit, save, squash, a layer
// conversion (save --compression-format zstd of an image imported each
// round, whose conversions its rmi takes away), and two
// of them at once on one store, with SIGKILL at random moments spread over
// each one's measured duration. After every round: fsck passes and the
// images made before are there (fsck re-hashes their blobs); at the end
// they still run and save.
func TestKillOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("kill rounds are long")
	}
	if os.Geteuid() != 0 {
		t.Skip("build's RUN and commit's container need root")
	}
	root := t.TempDir()
	must(t, root, "import", busyboxTar(t), "base:1")
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM base:1\nRUN echo a > /a && head -c 2000000 /dev/urandom > /r\nCOPY f /f\nRUN echo b > /b\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), []byte("f\n"), 0o644)
	must(t, root, "build", "-q", "-t", "multi:1", ctx)
	must(t, root, "run", "--name", "c1", "base:1", "sh", "-c", "head -c 2000000 /dev/urandom > /x")

	reg := registrytest.Start(t, registrytest.Options{})
	src := t.TempDir()
	must(t, src, "import", rootfsTar(t, 8, 512<<10, 11), "remote:1")
	must(t, src, "push", "-q", "remote:1", reg.Host+"/kill/remote:1")
	pulled := reg.Host + "/kill/remote:1"
	out := filepath.Join(t.TempDir(), "saved.tar")
	convRootfs := rootfsTar(t, 8, 1<<20, 12)
	keepers := []string{"base:1", "multi:1"}

	ops := []killOp{
		{name: "build", args: func(int) []string { return []string{"build", "-q", "--no-cache", "-t", "victim:build", ctx} }},
		{name: "pull", args: func(int) []string { return []string{"pull", "-q", pulled} }, reset: []string{"rmi", pulled}},
		{name: "push", args: func(i int) []string {
			return []string{"push", "-q", "multi:1", fmt.Sprintf("%s/kill/pushed%d:1", reg.Host, i)}
		}},
		{name: "commit", args: func(int) []string { return []string{"commit", "c1", "victim:commit"} }},
		{name: "save", args: func(int) []string { return []string{"save", "-o", out, "multi:1"} }},
		{name: "squash", args: func(int) []string { return []string{"image", "squash", "-t", "victim:squash", "multi:1"} }},
		{name: "convert", args: func(int) []string {
			return []string{"save", "--compression-format", "zstd", "--format", "oci-archive", "-o", out + ".zst", "conv:1"}
		}, prepare: []string{"import", convRootfs, "conv:1"}, reset: []string{"rmi", "conv:1"}},
	}
	// Each op is timed on its second run: the rounds repeat it on a store
	// and a registry that have seen it (a push then mounts the blobs the
	// registry has: a few times faster than the first, which once made
	// every round's kill come after the push had ended).
	durations := map[string]time.Duration{}
	for _, op := range ops {
		for run := -2; run < 0; run++ {
			if op.prepare != nil {
				must(t, root, op.prepare...)
			}
			start := time.Now()
			must(t, root, op.args(run)...)
			durations[op.name] = time.Since(start)
			if op.reset != nil {
				must(t, root, op.reset...)
			}
		}
	}
	rounds := faultRounds(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	check := func(when string) {
		t.Helper()
		fsckOK(t, root, when)
		if _, errOut, code := strata(t, root, append([]string{"image", "inspect", "--format", "{{.Id}}"}, keepers...)...); code != 0 {
			t.Fatalf("after %s: an earlier image is gone: %s", when, errOut)
		}
	}
	for _, op := range append(ops, killOp{name: "two at once"}) {
		t.Run(op.name, func(t *testing.T) {
			killed := 0
			for i := 0; i < rounds; i++ {
				group := []killOp{op}
				if op.args == nil {
					a := rng.Intn(len(ops))
					b := (a + 1 + rng.Intn(len(ops)-1)) % len(ops)
					group = []killOp{ops[a], ops[b]}
				}
				var cmds []*exec.Cmd
				var names []string
				longest := time.Duration(0)
				for _, g := range group {
					if g.prepare != nil {
						must(t, root, g.prepare...)
					}
				}
				for _, g := range group {
					args := g.args(i)
					names = append(names, strings.Join(args, " "))
					cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					cmds = append(cmds, cmd)
					longest = max(longest, durations[g.name])
				}
				time.Sleep(time.Duration(rng.Int63n(int64(longest)*6/5 + 1)))
				for _, cmd := range cmds {
					cmd.Process.Signal(syscall.SIGKILL)
					err := cmd.Wait()
					if ee, ok := err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signaled() {
						killed++
					}
				}
				check(fmt.Sprintf("kill -9 of `strata %s` (round %d)", strings.Join(names, "` and `strata "), i))
				for _, g := range group {
					if g.reset != nil {
						strata(t, root, g.reset...) // the image may not be there
					}
				}
			}
			t.Logf("%d rounds, %d processes killed mid-way (whole run takes %v)", rounds, killed, durations[op.name])
			if killed == 0 {
				t.Errorf("no %s was killed before it finished: the rounds tested nothing", op.name)
			}
		})
	}
	// What the killed processes left is collectable, and the earlier images
	// are whole: they run and save.
	must(t, root, "builder", "prune", "-a", "-f")
	must(t, root, "image", "prune", "-f")
	check("the rounds and a prune")
	if got := must(t, root, "run", "--rm", "multi:1", "cat", "/a", "/b", "/f"); got != "a\nb\nf\n" {
		t.Errorf("multi:1 runs with %q", got)
	}
	must(t, root, "save", "-o", out, "multi:1")
}
