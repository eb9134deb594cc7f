package cli

import (
	"strings"
	"testing"
)

// TestImageSquash runs `image squash` on the fixture's app image (three
// layers: two of busybox, one of its own) the ways a user would.
func TestImageSquash(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantLayers int    // of the new image, 0 when it fails
		wantErr    string // in stderr
	}{
		{"all", []string{"image", "squash", "-t", "app:sq", "example.com:5000/team/app:v1"}, 0, 1, ""},
		{"since its base", []string{"image", "squash", "--since", "busybox", "-t", "app:sq", "example.com:5000/team/app:v1"}, 0, 3, ""},
		{"from a layer", []string{"image", "squash", "--from", "1", "-t", "app:sq", "example.com:5000/team/app:v1"}, 0, 2, ""},
		{"not its base", []string{"image", "squash", "--since", "example.com:5000/team/app:v1", "-t", "app:sq", "busybox"}, 1, 0, "is not built on"},
		{"both ways of saying where", []string{"image", "squash", "--from", "1", "--since", "busybox", "example.com:5000/team/app:v1"}, 1, 0, "cannot be used together"},
		{"no such layer", []string{"image", "squash", "--from", "3", "example.com:5000/team/app:v1"}, 1, 0, "--from 3: the image has layers 0 to 2"},
		{"no such image", []string{"image", "squash", "nosuch:1"}, 1, 0, "No such image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := fixture(t)
			out, errOut, code := strata(t, root, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
			if tc.wantCode != 0 {
				if strings.Contains(strings.TrimSpace(errOut), "\n") {
					t.Errorf("the error is more than one line: %q", errOut)
				}
				if o, _, _ := strata(t, root, "", "images", "-q", "app"); o != "" {
					t.Errorf("a failed squash made an image: %q", o)
				}
				return
			}
			id := strings.TrimSpace(out)
			if !strings.HasPrefix(id, "sha256:") {
				t.Fatalf("printed %q, want the new image ID", out)
			}
			layers, _, _ := strata(t, root, "", "inspect", "-f", "{{len .RootFS.Layers}}", "app:sq")
			if strings.TrimSpace(layers) != string(rune('0'+tc.wantLayers)) {
				t.Errorf("app:sq has %s layers, want %d", strings.TrimSpace(layers), tc.wantLayers)
			}
			if _, errOut, code := strata(t, root, "", "fsck"); code != 0 {
				t.Fatalf("fsck after squash: %s", errOut)
			}
		})
	}
}
