package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/content"
	"github.com/strata-dev/strata/internal/fanout"
)

// Blob describes a stored layer blob.
type Blob struct {
	Digest           digest.Digest // sha256 of the blob's bytes
	DiffID           digest.Digest // sha256 of its uncompressed tar
	Size             int64         // bytes of the blob
	UncompressedSize int64         // bytes of the tar
	// ContentSize is what the tar unpacks to, as docker counts a layer's
	// size (EntryChecker.ContentSize).
	ContentSize int64
	Compression Compression
	Written     bool // the blob was new to the store
}

// Ingest stores the layer blob read from r in cs. The blob's digest and the
// diffID of its tar are computed in the same pass (the tar is decompressed
// and checked on a second core while the blob is written); expected and size
// are checked when given. A blob that is not a well-formed tar, or holds a
// path that leaves its root, is refused and nothing is stored.
func Ingest(cs *content.Store, r io.Reader, expected digest.Digest, size int64) (Blob, error) {
	w, err := cs.NewWriter()
	if err != nil {
		return Blob{}, err
	}
	defer w.Close()

	// An uncompressed layer's diffID is its digest, which the writer
	// computes: the checker then only validates the tar, with no second
	// sha256 pass.
	head, br, err := peek(r, 6)
	if err != nil {
		return Blob{}, err
	}
	plain := Detect(head) == Uncompressed

	pr, pw := newSkipPipe()
	type result struct {
		b   Blob
		err error
	}
	done := make(chan result, 1)
	go func() {
		var b Blob
		var err error
		if plain {
			b.ContentSize, err = CheckTar(pr)
		} else {
			b, err = Check(pr)
		}
		if err != nil && expected != "" {
			// Bytes altered on the way make a broken tar or gzip long
			// before their digest is known: read on to the end so that
			// the blob's digest, the first thing wrong, is what is said.
			io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err) // unblocks the writer side on error
		done <- result{b, err}
	}()

	// Large chunks: fewer write syscalls and fewer hand-offs to the
	// checking goroutine, which reads each chunk while the writer stores
	// and hashes it (fanout).
	out := fanout.New(w, pw)
	_, copyErr := fanout.Copy(out, br, make([]byte, 2<<20))
	out.Close()
	pw.CloseWithError(copyErr)
	res := <-done
	if copyErr != nil && !errors.Is(copyErr, io.ErrClosedPipe) {
		return Blob{}, copyErr
	}
	if res.err != nil {
		if expected != "" {
			if _, err := w.Verify(expected, size); err != nil {
				return Blob{}, err
			}
		}
		return Blob{}, res.err
	}
	d, err := w.Commit(expected, size)
	if err != nil {
		return Blob{}, err
	}
	res.b.Digest = d
	res.b.Size = w.Size()
	if plain {
		res.b.DiffID, res.b.UncompressedSize, res.b.Compression = d, w.Size(), Uncompressed
	}
	res.b.Written = w.Written()
	return res.b, nil
}

// peek reads the first n bytes of r (fewer if r ends first) and returns
// them with a reader of the whole stream. Unlike a bufio.Reader it adds no
// copy after them: the chunks of a big blob go from r straight into the
// caller's buffer (a bufio.Reader of the pull's blob took a tenth of its CPU
// in memmove).
func peek(r io.Reader, n int) ([]byte, io.Reader, error) {
	head := make([]byte, n)
	m, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, nil, err
	}
	head = head[:m]
	return head, io.MultiReader(bytes.NewReader(head), r), nil
}

// Check reads a (possibly compressed) layer stream to its end and returns
// its diffID, uncompressed size and compression. It fails on a stream that
// is not a well-formed tar or holds an entry the rules of EntryChecker
// refuse.
func Check(r io.Reader) (Blob, error) {
	dr, c, err := Decompress(r)
	if err != nil {
		return Blob{}, fmt.Errorf("%w: %w", ErrInvalidLayer, err)
	}
	defer dr.Close()
	// The tar is hashed and checked on two goroutines while the next
	// chunk is decompressed.
	h := digest.SHA256.Digester()
	pr, pw := newSkipPipe()
	checked := make(chan error, 1)
	var content int64
	go func() {
		var err error
		content, err = CheckTar(pr)
		pr.CloseWithError(err) // a refused tar stops the copy at once
		checked <- err
	}()
	out := fanout.New(h.Hash(), pw)
	n, err := fanout.Copy(out, dr, make([]byte, 2<<20))
	out.Close()
	pw.CloseWithError(err)
	if cerr := <-checked; cerr != nil {
		return Blob{}, cerr
	}
	if err != nil {
		return Blob{}, fmt.Errorf("%w: %w", ErrInvalidLayer, err)
	}
	return Blob{DiffID: h.Digest(), UncompressedSize: n, ContentSize: content, Compression: c}, nil
}

// CheckTar reads an uncompressed layer to its end (padding included),
// checking that it is a well-formed tar whose entries pass EntryChecker,
// and returns what it unpacks to (EntryChecker.ContentSize). Unlike Check
// it does not hash: for a plain tar the caller's blob digest is the
// diffID.
func CheckTar(r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	ec := NewEntryChecker()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%w tar: %v", ErrInvalidLayer, err)
		}
		if err := ec.Check(hdr); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrInvalidLayer, err)
		}
	}
	// The diffID covers the whole stream, padding after the end marker too.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidLayer, err)
	}
	return ec.ContentSize(), nil
}

// CheckName refuses a tar entry name that would leave the root it is
// extracted into.
func CheckName(name string) error {
	if _, err := cleanPath(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidLayer, &EntryError{Entry: name, Reason: err.Error()})
	}
	return nil
}
