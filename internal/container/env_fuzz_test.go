package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseEnv: an --env-file of any content, with -e values, gives an
// environment of K=V entries or an error.
func FuzzParseEnv(f *testing.F) {
	f.Add([]byte("A=b\n# comment\n\nB\nC=d=e\n"), "X=1\nPATH")
	f.Add([]byte("=x\n\x00\n A = b \n"), "=")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte, flags string) {
		p := filepath.Join(dir, "env")
		if err := os.WriteFile(p, file, 0o644); err != nil {
			t.Fatal(err)
		}
		env, err := ParseEnv(nil, strings.Split(flags, "\n"), []string{p})
		if err != nil {
			return
		}
		for _, e := range env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("entry %q is not K=V", e)
			}
		}
	})
}

// FuzzParseVolume: -v values parse or fail, never panic.
func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/data", "/host:/ctr", "/host:/ctr:ro", "name:/ctr:rw,z", ":", "a:b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { ParseVolume(s) })
}

func TestParseVolume(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec    string
		want    Volume
		wantErr string
	}{
		{spec: "/data:/d", want: Volume{Source: "/data", Target: "/d"}},
		{spec: "/data/../x/:/d/:ro", want: Volume{Source: "/x", Target: "/d", ReadOnly: true}},
		// docker 23+ takes a source starting with "." from the working directory.
		{spec: "./data:/d", want: Volume{Source: filepath.Join(wd, "data"), Target: "/d"}},
		{spec: ".:/d:rw", want: Volume{Source: wd, Target: "/d"}},
		{spec: "../up:/d", want: Volume{Source: filepath.Join(filepath.Dir(wd), "up"), Target: "/d"}},
		{spec: "name:/d", wantErr: "named volumes are not supported"},
		{spec: "data/sub:/d", wantErr: "named volumes are not supported"},
		{spec: "./data:d", wantErr: "the container path must be absolute"},
		{spec: "./data:/", wantErr: "cannot mount over the container's root"},
		{spec: "/data:/d:rx", wantErr: "unknown mode"},
		{spec: "/data", wantErr: "want HOST-PATH:CONTAINER-PATH"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseVolume(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseVolume(%q) = %+v, %v; want an error with %q", tc.spec, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseVolume(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
		})
	}
}
