package layer

import (
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestDigester(t *testing.T) {
	for _, s := range []string{"", "a", strings.Repeat("layer", 100000)} {
		d := NewDigester()
		if _, err := io.Copy(d, strings.NewReader(s)); err != nil {
			t.Fatal(err)
		}
		if d.Digest() != digest.FromString(s) || d.Size() != int64(len(s)) {
			t.Errorf("%d bytes: %s %d, want %s", len(s), d.Digest(), d.Size(), digest.FromString(s))
		}
	}
}
