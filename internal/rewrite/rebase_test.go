package rewrite

import (
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

func TestRebaseEnv(t *testing.T) {
	tests := []struct {
		name          string
		src, old, new []string
		want          []string
	}{
		{"inherited values follow the new base", []string{"PATH=/a", "V=1"}, []string{"PATH=/a", "V=1"}, []string{"PATH=/b", "V=2"}, []string{"PATH=/b", "V=2"}},
		{"the image's own values stay", []string{"PATH=/a", "V=mine", "APP=1"}, []string{"PATH=/a", "V=1"}, []string{"PATH=/b", "V=2"}, []string{"PATH=/b", "V=mine", "APP=1"}},
		{"what the new base dropped goes", []string{"GONE=1", "APP=1"}, []string{"GONE=1"}, nil, []string{"APP=1"}},
		{"what the new base adds comes", []string{"APP=1"}, nil, []string{"NEW=1"}, []string{"NEW=1", "APP=1"}},
		{"a value with = in it", []string{"X=a=b"}, []string{"X=a=b"}, []string{"X=c=d"}, []string{"X=c=d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rebaseEnv(tc.src, tc.old, tc.new); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRebaseMap(t *testing.T) {
	src := map[string]string{"base": "one", "vendor": "me", "app": "x"}
	old := map[string]string{"base": "one", "vendor": "v", "old": "o"}
	new := map[string]string{"base": "two", "vendor": "v2", "new": "n"}
	got := rebaseMap(src, old, new)
	want := map[string]string{"base": "two", "vendor": "me", "app": "x", "new": "n"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if rebaseMap[string](nil, nil, nil) != nil {
		t.Error("no labels anywhere gave a map")
	}
}

func TestIsRun(t *testing.T) {
	tests := map[string]bool{
		"RUN /bin/sh -c apt-get install -y x # buildkit": true,
		"/bin/sh -c apt-get update":                      true,
		"|1 A=b /bin/sh -c make":                         true,
		"/bin/sh -c #(nop) COPY file:abc in /app":        false,
		"COPY app.txt /app/ # buildkit":                  false,
		"WORKDIR /app":                                   false,
		"":                                               false,
	}
	for in, want := range tests {
		if got := isRun(in); got != want {
			t.Errorf("isRun(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestRebaseStrict: a RUN layer above the base is reported, and refused
// with Strict before anything is stored.
func TestRebaseStrict(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b1 := storetest.Image(t, st, nil, "base:1", testutil.Tar(t, testutil.File("r", "1")))
	b2 := storetest.Image(t, st, nil, "base:2", testutil.Tar(t, testutil.File("r", "2")))
	app := storetest.ConfigImage(t, st, "", func(c *image.ConfigFile) {}, testutil.Tar(t, testutil.File("r", "1")), testutil.Tar(t, testutil.File("made", "by run")))
	// storetest names each layer's history "layer N"; make the top one a RUN.
	src := storetest.Source(t, st, app)
	cfg := *src.Config().File
	cfg.History = []ocispec.History{{CreatedBy: "layer 0"}, {CreatedBy: "RUN /bin/sh -c make # buildkit"}}
	var descs []ocispec.Descriptor
	for _, l := range app.Layers {
		descs = append(descs, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	runApp, err := st.PutImage(&cfg, descs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, _ := st.Images()
	_, based, err := Rebase(ctx, st, storetest.Source(t, st, runApp), storetest.Source(t, st, b1), storetest.Source(t, st, b2), RebaseOptions{Strict: true})
	if err == nil || !strings.Contains(err.Error(), "layer 1 (RUN /bin/sh -c make") || len(based) != 1 {
		t.Fatalf("strict rebase: %v %v", based, err)
	}
	if after, _ := st.Images(); len(after) != len(before) {
		t.Errorf("a refused rebase stored an image")
	}
	im, based, err := Rebase(ctx, st, storetest.Source(t, st, runApp), storetest.Source(t, st, b1), storetest.Source(t, st, b2), RebaseOptions{})
	if err != nil || len(based) != 1 || based[0].Index != 1 {
		t.Fatalf("rebase: %v %v", based, err)
	}
	if im.Layers[0].DiffID != b2.Layers[0].DiffID || im.Layers[1].Digest != app.Layers[1].Digest {
		t.Errorf("layers %+v", im.Layers)
	}
}
