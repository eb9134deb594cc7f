package content

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

func newStore(t *testing.T) *Store {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ingestFiles(t *testing.T, s *Store) []string {
	ents, err := os.ReadDir(filepath.Join(s.root, "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestPutAndRead(t *testing.T) {
	s := newStore(t)
	data := []byte("hello, layer")
	want := digest.FromBytes(data)
	d, n, err := s.Put(bytes.NewReader(data), want, int64(len(data)))
	if err != nil || d != want || n != int64(len(data)) {
		t.Fatalf("Put = %s %d %v", d, n, err)
	}
	if size, err := s.Info(d); err != nil || size != int64(len(data)) {
		t.Fatalf("Info = %d %v", size, err)
	}
	b, err := s.ReadAll(d, 100)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadAll = %q %v", b, err)
	}
	if _, err := s.ReadAll(d, 3); err == nil {
		t.Fatal("ReadAll read past its bound")
	}
	var walked []digest.Digest
	s.Walk(func(d digest.Digest, _ int64) error { walked = append(walked, d); return nil })
	if len(walked) != 1 || walked[0] != d {
		t.Fatalf("Walk = %v", walked)
	}
	if fi, _ := os.Stat(s.Path(d)); fi.Mode().Perm() != 0o444 {
		t.Fatalf("blob mode %v, want read-only", fi.Mode())
	}
	if err := s.Delete(d); err != nil || s.Has(d) {
		t.Fatalf("Delete: %v, still there: %v", err, s.Has(d))
	}
	if _, err := s.Info(d); !errdefs.IsNotFound(err) {
		t.Fatalf("Info after Delete = %v", err)
	}
}

// A blob that does not match what the caller expected never becomes
// visible, and leaves no temporary file.
func TestCommitRefusesMismatch(t *testing.T) {
	cases := []struct {
		name     string
		expected digest.Digest
		size     int64
		want     string
	}{
		{"wrong digest", digest.FromString("other"), -1, "digest mismatch"},
		{"short", "", 100, "got 4 bytes, want 100"},
		{"long", "", 2, "got 4 bytes, want 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			_, _, err := s.Put(strings.NewReader("data"), c.expected, c.size)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Put = %v, want %q", err, c.want)
			}
			if s.Has(digest.FromString("data")) {
				t.Fatal("refused blob is visible")
			}
			if left := ingestFiles(t, s); len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

func TestCloseWithoutCommitDiscards(t *testing.T) {
	s := newStore(t)
	w, err := s.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("partial"))
	w.Close()
	if left := ingestFiles(t, s); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestVerifyFindsDamage(t *testing.T) {
	s := newStore(t)
	d, _, err := s.Put(strings.NewReader("precious"), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(d); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.Path(d), 0o644)
	os.WriteFile(s.Path(d), []byte("Precious"), 0o444)
	if err := s.Verify(d); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Verify of a damaged blob = %v", err)
	}
	if _, err := s.ReadAll(d, 100); err == nil {
		t.Fatal("ReadAll returned a damaged blob")
	}
}

// Writers of the same blob at once all succeed and leave one copy.
func TestConcurrentSameBlob(t *testing.T) {
	s := newStore(t)
	data := bytes.Repeat([]byte("x"), 1<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Put(bytes.NewReader(data), digest.FromBytes(data), int64(len(data)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Verify(digest.FromBytes(data)); err != nil {
		t.Fatal(err)
	}
	if left := ingestFiles(t, s); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestInvalidDigests(t *testing.T) {
	s := newStore(t)
	for _, d := range []digest.Digest{"", "sha256:zz", "sha256:../../etc/passwd", "md5:abc"} {
		if _, err := s.Open(d); err == nil {
			t.Errorf("Open(%q) succeeded", d)
		}
	}
}
