package cli

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/testutil"
)

// TestPullOverLoadedForm: a store that has an image whole in another form
// (loaded from a docker-archive: uncompressed layers) pulls it from a
// registry (gzip layers). The image takes the registry's manifest, whose
// digest a push gives back; the forms it no longer uses are removed at
// once, not left on disk until the next rmi or prune. A load of the
// archive after the pull writes nothing and leaves nothing either.
func TestPullOverLoadedForm(t *testing.T) {
	regEnv(t)
	reg := registrytest.Start(t, registrytest.Options{})
	reg.PutImage(t, "forms/app", "1", image.HostPlatform().String(),
		testutil.Tar(t, testutil.Entry{Name: "etc/"}, testutil.Entry{Name: "etc/app", Body: "app\n"}))
	ref := reg.Host + "/forms/app:1"
	archive := filepath.Join(t.TempDir(), "app.tar")
	first := t.TempDir()
	mustRun(t, first, "pull", "-q", ref)
	mustRun(t, first, "save", "-o", archive, ref)

	root := t.TempDir()
	clean := regexp.MustCompile(`^checked \d+ blobs, 1 images, 1 names\nok\n$`)
	mustRun(t, root, "load", "-q", "-i", archive)
	mustRun(t, root, "pull", "-q", ref)
	if out := mustRun(t, root, "fsck"); !clean.MatchString(out) {
		t.Errorf("fsck after load and pull:\n%s", out)
	}
	mustRun(t, root, "load", "-q", "-i", archive)
	if out := mustRun(t, root, "fsck"); !clean.MatchString(out) {
		t.Errorf("fsck after the load again:\n%s", out)
	}
}
