package image

import "testing"

// FuzzParsePlatform: --platform values and FROM --platform strings parse
// or fail, and a parsed platform prints to a string that parses back to
// the same normalized platform.
func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8", "windows/amd64", "amd64", "linux", "/", "linux//", "Linux/ARM64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			return
		}
		again, err := ParsePlatform(p.String())
		if err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, p.String(), err)
		}
		if NormalizePlatform(again) != NormalizePlatform(p) {
			t.Fatalf("%q: %+v printed as %q parses to %+v", s, p, p.String(), again)
		}
	})
}
