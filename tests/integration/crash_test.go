package integration

import (
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fsckOK fails the test unless `strata fsck` passes.
func fsckOK(t *testing.T, root, when string) {
	t.Helper()
	out, errOut, code := strata(t, root, "fsck")
	if code != 0 {
		t.Fatalf("fsck after %s: exit %d\n%s%s", when, code, out, errOut)
	}
}

// imageNames lists repository:tag of every named image.
func imageNames(t *testing.T, root string) map[string]bool {
	out := must(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}")
	out = strings.ReplaceAll(out, "<none>:<none>", "")
	names := map[string]bool{}
	for _, l := range strings.Fields(out) {
		names[l] = true
	}
	return names
}

// TestKillAnywhere kills strata with SIGKILL at random moments of import,
// load, rmi and prune, and after each kill checks the invariant: the store opens,
// fsck passes, every image that was complete before is still there, and an
// image is either all there (with its name) or not at all.
func TestKillAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop is long")
	}
	root := t.TempDir()
	must(t, root, "import", rootfsTar(t, 50, 64<<10, 1), "keeper:1")
	big := rootfsTar(t, 200, 128<<10, 2) // 25 MiB: import takes long enough to be killed mid-way
	// An archive of another big image, for load to be killed in.
	must(t, root, "import", rootfsTar(t, 200, 128<<10, 3), "victim:load")
	archive := filepath.Join(t.TempDir(), "victim.tar")
	must(t, root, "save", "-o", archive, "victim:load")
	must(t, root, "rmi", "victim:load")
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	iterations := 40
	var killedMidway int
	for i := 0; i < iterations; i++ {
		var args []string
		name := fmt.Sprintf("victim:%d", i)
		switch rng.Intn(5) {
		case 4:
			args = []string{"load", "-i", archive}
		case 0:
			args = []string{"import", big, name}
		case 1:
			args = []string{"import", big} // dangling: prune's prey
		default:
			names := imageNames(t, root)
			args = []string{"image", "prune", "-f"}
			for n := range names {
				if strings.HasPrefix(n, "victim:") {
					args = []string{"rmi", n}
					break
				}
			}
		}
		cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(120)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signaled() {
			killedMidway++
		}
		when := fmt.Sprintf("kill -9 of `strata %s` (iteration %d)", strings.Join(args, " "), i)
		fsckOK(t, root, when)
		names := imageNames(t, root)
		if !names["keeper:1"] {
			t.Fatalf("after %s: keeper:1 is gone", when)
		}
		// Whatever is visible is whole: every named image inspects and its
		// history lists its layers.
		for n := range names {
			must(t, root, "history", n)
		}
		for _, id := range strings.Fields(must(t, root, "images", "-q")) {
			must(t, root, "inspect", id)
		}
	}
	if killedMidway == 0 {
		t.Fatal("no operation was killed before it finished: the loop tested nothing")
	}
	t.Logf("%d of %d operations were killed mid-way", killedMidway, iterations)
	// Everything a killed process left behind is collectable.
	must(t, root, "image", "prune", "-f")
	out := must(t, root, "fsck")
	if strings.Contains(out, "unreferenced") {
		t.Fatalf("prune left unreferenced blobs: %s", out)
	}
}

// TestConcurrentProcesses runs imports, tags, removals and listings of many
// processes on one store at once; nothing may fail and the result must be
// exactly what the operations say.
func TestConcurrentProcesses(t *testing.T) {
	root := t.TempDir()
	tars := make([]string, 6)
	for i := range tars {
		tars[i] = rootfsTar(t, 20, 32<<10, int64(100+i))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range tars {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("img%d:1", i)
			for _, args := range [][]string{
				{"import", tars[i], name},
				{"tag", name, fmt.Sprintf("img%d:2", i)},
				{"images"},
				{"rmi", name},
				{"image", "prune", "-f"},
			} {
				if _, errOut, code := strata(t, root, args...); code != 0 {
					errs <- fmt.Sprintf("strata %v: %s", args, errOut)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	names := imageNames(t, root)
	for i := range tars {
		if !names[fmt.Sprintf("img%d:2", i)] || names[fmt.Sprintf("img%d:1", i)] {
			t.Errorf("img%d: want only tag 2, have %v", i, names)
		}
	}
	fsckOK(t, root, "concurrent processes")
}
