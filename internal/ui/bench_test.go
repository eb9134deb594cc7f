package ui

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
	"github.com/strata-dev/strata/internal/storetest"
	"github.com/strata-dev/strata/internal/testutil"
)

// The page benchmarks (bench/ui_bench.sh) time pages in the browser: from
// the start of the navigation (Navigation Timing's origin) until the view
// is drawn from the API (body[data-ready]), and report it as ms/page;
// Navigation Timing's own loadEventEnd (the HTML, script and stylesheet
// alone) as ms/load.

func benchServer(b *testing.B, fill func(st *store.Store) string) (*httptest.Server, *Server, string) {
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	hash := fill(st)
	srv, err := New(Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	return ts, srv, hash
}

// timePage loads url b.N times and reports the times to drawn and to load;
// then, when given, it runs the JavaScript of then (a promise of a time in
// ms) and reports its mean as ms/then.
func timePage(b *testing.B, ts *httptest.Server, srv *Server, hash, then string) {
	ctx := newBrowser(b, 10*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/?token="+srv.Token()+hash), ready(hash)); err != nil {
		b.Fatal(err) // sets the cookie, and warms the server's caches
	}
	var drawn, load, after float64
	b.ResetTimer()
	for range b.N {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(ts.URL+"/"+hash), ready(hash)); err != nil {
			b.Fatal(err)
		}
		d, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Number(document.body.dataset.readyAt)`))
		if err != nil {
			b.Fatal(err)
		}
		l, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].loadEventEnd`))
		if err != nil {
			b.Fatal(err)
		}
		drawn, load = drawn+d, load+l
		if then != "" {
			a, err := chromedp.Run(ctx, chromedp.Evaluate[float64](then, chromedp.EvalAwaitPromise))
			if err != nil {
				b.Fatal(err)
			}
			after += a
		}
	}
	if then != "" {
		b.ReportMetric(after/float64(b.N), "ms/then")
	}
	api, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("resource").filter(e => e.name.includes("/api/")).reduce((s, e) => s + e.duration, 0)`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(api, "ms/api")
	b.ReportMetric(drawn/float64(b.N), "ms/page")
	b.ReportMetric(load/float64(b.N), "ms/load")
}

// BenchmarkImagesPage500 is the images page of a store of 500 images (one
// small image and 499 of one layer each, half of them tagged twice).
func BenchmarkImagesPage500(b *testing.B) {
	ts, srv, hash := benchServer(b, func(st *store.Store) string {
		for i := range 500 {
			im := storetest.Image(b, st, nil, fmt.Sprintf("bench/img%03d:v1", i), testutil.Tar(b, testutil.File(fmt.Sprintf("f%d", i), "x")))
			if i%2 == 0 {
				ref, err := image.ParseReference(fmt.Sprintf("bench/other%03d:latest", i))
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Tag(im.ID, ref); err != nil {
					b.Fatal(err)
				}
			}
		}
		return "#/images"
	})
	timePage(b, ts, srv, hash, "")
}

// openDir100 opens /d050 in the tree and resolves to the time until its
// 1,000 files are drawn.
const openDir100 = `new Promise(done => {
  const t0 = performance.now();
  document.querySelector('#tree li[data-path="/d050"] > span.name').click();
  const poll = () => document.querySelectorAll('#tree li[data-path="/d050"] li').length === 1000 ?
    done(performance.now() - t0) : requestAnimationFrame(poll);
  poll();
})`

// BenchmarkLayerDir100k is the layer page of a layer of 100,000 files
// (100 directories of 1,000): the page with / listed (ms/page), then
// /d050 opened (ms/then).
func BenchmarkLayerDir100k(b *testing.B) {
	var entries []testutil.Entry
	for d := range 100 {
		dir := fmt.Sprintf("d%03d", d)
		entries = append(entries, testutil.Dir(dir))
		for f := range 1000 {
			entries = append(entries, testutil.File(fmt.Sprintf("%s/file%04d", dir, f), strings.Repeat("y", f%7)))
		}
	}
	ts, srv, hash := benchServer(b, func(st *store.Store) string {
		im := storetest.Image(b, st, nil, "bench/many:files", testutil.Tar(b, entries...))
		return "#/layer/" + im.ID.String() + "/0"
	})
	timePage(b, ts, srv, hash, openDir100)
}
