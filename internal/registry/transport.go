package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout is how long a registry may make no progress (no
// connection, no answer, no byte of a body) before the request fails:
// $STRATA_REGISTRY_TIMEOUT (a Go duration, "30s") or 2 minutes, which
// leaves a slow registry time to commit a big upload.
func DefaultTimeout() time.Duration {
	if s := os.Getenv("STRATA_REGISTRY_TIMEOUT"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d
		}
	}
	return 2 * time.Minute
}

// stallError is a request that made no progress for the client's timeout.
// It says Timeout() (Explain's "did not answer in time") and not
// Temporary(), so go-containerregistry does not retry it: a registry that
// hangs once hangs again, and three waits would triple the user's.
type stallError struct{ after time.Duration }

func (e *stallError) Error() string   { return fmt.Sprintf("no answer for %s", e.after) }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return false }

// watchdog fails a request that makes no progress for after: connecting,
// sending its body, waiting for the answer and reading the answer's body
// each reset the clock. A total deadline would not do: a big layer takes
// as long as it takes, but a registry that stops answering must not hang
// a pull or push for ever.
type watchdog struct {
	next  http.RoundTripper
	after time.Duration
}

// dog is the clock of one request.
type dog struct {
	after  time.Duration
	cancel context.CancelFunc
	timer  *time.Timer

	mu     sync.Mutex
	barked bool
}

func (d *dog) bark() {
	d.mu.Lock()
	d.barked = true
	d.mu.Unlock()
	d.cancel()
}

func (d *dog) kick() { d.timer.Reset(d.after) }

func (d *dog) stop() {
	d.timer.Stop()
	d.cancel()
}

// explain turns the cancellation the watchdog caused into a stallError.
func (d *dog) explain(err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.barked && err != nil && err != io.EOF {
		return &stallError{after: d.after}
	}
	return err
}

func (w *watchdog) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	d := &dog{after: w.after, cancel: cancel}
	d.timer = time.AfterFunc(w.after, d.bark)
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedBody{rc: req.Body, d: d}
	}
	resp, err := w.next.RoundTrip(req)
	if err != nil {
		d.stop()
		return nil, d.explain(err)
	}
	d.kick()
	resp.Body = &watchedBody{rc: resp.Body, d: d, closeStops: true}
	return resp, nil
}

// watchedBody resets its request's clock on every read that made progress.
type watchedBody struct {
	rc         io.ReadCloser
	d          *dog
	closeStops bool // the response's body: its Close ends the request
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.d.kick()
	}
	return n, b.d.explain(err)
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	if b.closeStops {
		b.d.stop()
	}
	return err
}

// maxResumes bounds how often one download is resumed.
const maxResumes = 5

// resumer continues a blob download that the connection cut: it asks for
// the rest with a Range request and splices it onto what was received, so
// the reader above (go-containerregistry's digest check, the content
// store) sees one stream. A registry that ignores Range answers 200 with
// the whole blob; its first bytes are then skipped (a restart). Blobs are
// named by their digest, so the bytes of a second request are the same
// blob, and the digest is checked at the end as always.
type resumer struct {
	next http.RoundTripper
}

func (r *resumer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK ||
		resp.ContentLength <= 0 || !isBlobRequest(req) {
		return resp, err
	}
	resp.Body = &resumingBody{next: r.next, req: req, body: resp.Body, total: resp.ContentLength}
	return resp, nil
}

// isBlobRequest is a GET of a blob, or the redirect a registry answered one
// with (to its storage).
func isBlobRequest(req *http.Request) bool {
	for r := req; r != nil; {
		if strings.Contains(r.URL.Path, "/blobs/") && !strings.Contains(r.URL.Path, "/blobs/uploads/") {
			return true
		}
		if r.Response == nil {
			return false
		}
		r = r.Response.Request
	}
	return false
}

type resumingBody struct {
	next    http.RoundTripper
	req     *http.Request
	body    io.ReadCloser
	got     int64
	total   int64
	resumes int
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.got += int64(n)
		if err == io.EOF && b.got < b.total {
			err = io.ErrUnexpectedEOF // a body that ends early is a cut too
		}
		if err == nil || err == io.EOF || !resumable(err) {
			return n, err
		}
		if n > 0 {
			// Hand over what came; the dead body fails again on the next
			// read, which resumes.
			return n, nil
		}
		if b.resumes >= maxResumes || b.req.Context().Err() != nil {
			return 0, fmt.Errorf("connection cut at byte %d of %d, %d times: %w", b.got, b.total, b.resumes+1, err)
		}
		b.resumes++
		b.body.Close()
		body, rerr := b.resume()
		if rerr != nil {
			return 0, fmt.Errorf("connection cut at byte %d of %d (%v), and resuming failed: %w", b.got, b.total, err, rerr)
		}
		b.body = body
	}
}

// resume asks for the bytes from b.got on.
func (b *resumingBody) resume() (io.ReadCloser, error) {
	// A short pause: a registry that just dropped the connection (a
	// restart, a load balancer) often needs a moment.
	select {
	case <-time.After(time.Duration(b.resumes) * 50 * time.Millisecond):
	case <-b.req.Context().Done():
		return nil, b.req.Context().Err()
	}
	req := b.req.Clone(b.req.Context())
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.got))
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != b.got || total >= 0 && total != b.total {
			resp.Body.Close()
			return nil, fmt.Errorf("the registry answered the range request with %q", resp.Header.Get("Content-Range"))
		}
		return resp.Body, nil
	case http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != b.total {
			resp.Body.Close()
			return nil, fmt.Errorf("the blob is %d bytes now, %d before", resp.ContentLength, b.total)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, b.got); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp.Body, nil
	}
	resp.Body.Close()
	return nil, fmt.Errorf("the registry answered the range request with %s", resp.Status)
}

func (b *resumingBody) Close() error { return b.body.Close() }

// resumable errors are a connection that ended early; not a stall (the
// registry would stall again) nor a cancellation.
func resumable(err error) bool {
	var se *stallError
	if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*": -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}
