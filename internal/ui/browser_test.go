package ui

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/registry/registrytest"
	"github.com/strata-dev/strata/internal/testutil"
)

// Chromium is the browser the tests drive (apt-get install chromium).
const Chromium = "/usr/bin/chromium"

// newBrowser starts one headless chromium for a test's subtests and
// returns a tab's context, bounded in time.
func newBrowser(t testing.TB, limit time.Duration) context.Context {
	t.Helper()
	if _, err := exec.LookPath(Chromium); err != nil {
		t.Fatalf("%s not installed (apt-get install chromium)", Chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, limit)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	return ctx
}

// screenshot saves the tab's view as name.png under dir and fails the test
// when it is blank (one colour).
func screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if img.At(x, y) != first {
				return p
			}
		}
	}
	t.Fatalf("screenshot %s is blank", p)
	return p
}

// ready waits until the page has drawn the view of hash.
func ready(hash string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`body[data-ready="` + hash + `"]`))
}

// evaluate is the value of a JavaScript expression in the tab.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text is the text of the first element CSS selector sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return v
}

func TestBrowser(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	f := newFixture(t, Options{Registry: func(p registry.Progress) (*registry.Client, error) {
		return registry.New(registry.Options{Progress: p, Insecure: []string{reg.Host}})
	}, AdvisoryDB: "../vuln/testdata/db"}, true)
	ctx := newBrowser(t, 50*time.Second)
	shots := t.TempDir()
	if dir := os.Getenv("STRATA_UI_SHOTS"); dir != "" {
		shots = dir // docs/: the README's screenshot
	}
	run := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	var rows []ImageRow
	f.get(t, "/api/images", &rows)

	t.Run("images page lists the store", func(t *testing.T) {
		run(t, chromedp.Navigate(f.ts.URL+"/?token="+f.srv.Token()), ready("#/images"))
		if n := evaluate[int](t, ctx, `document.querySelectorAll("#images tr.image-row").length`); n != len(rows) {
			t.Fatalf("%d rows, the store has %d", n, len(rows))
		}
		body := text(t, ctx, "#images tbody")
		for _, want := range []string{"example.com/app", "example.com/base", "<none>", "web"} {
			if !strings.Contains(body, want) {
				t.Errorf("images page lacks %q:\n%s", want, body)
			}
		}
		screenshot(t, ctx, shots, "images")
	})

	t.Run("an image's layer bands", func(t *testing.T) {
		var d ImageDetail
		f.get(t, "/api/images/"+f.app.ID.String(), &d)
		run(t, chromedp.Click(css(`tr[data-ref="example.com/app:latest"] a.open`)), ready("#/image/"+f.app.ID.String()))
		bands := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#bands .band")].map(b => b.dataset.layer + ":" + b.dataset.size)`)
		var want []string
		for i := len(d.Analysis.Layers) - 1; i >= 0; i-- { // drawn top layer first
			l := d.Analysis.Layers[i]
			want = append(want, strconv.Itoa(l.Index)+":"+strconv.FormatInt(l.Size, 10))
		}
		if strings.Join(bands, " ") != strings.Join(want, " ") || len(bands) != len(f.app.Layers) {
			t.Fatalf("bands %v, layers %v", bands, want)
		}
		screenshot(t, ctx, shots, "image")
	})

	t.Run("an image's packages and findings per layer", func(t *testing.T) {
		pkgs := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#packages .layer-packages tr.pkg")].map(r => r.closest(".layer-packages").dataset.layer + ":" + r.dataset.name + "@" + r.dataset.version)`)
		findings := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#packages tr.finding")].map(r => r.closest(".layer-packages").dataset.layer + ":" + r.dataset.id + ":" + r.dataset.package)`)
		if strings.Join(pkgs, " ") != "1:lodash@4.17.20" || strings.Join(findings, " ") != "1:GHSA-35jh-r3h4-6jhm:lodash" {
			t.Errorf("packages %v, findings %v", pkgs, findings)
		}
	})

	t.Run("a band opens its layer's tree", func(t *testing.T) {
		run(t, chromedp.Click(css(`#bands .band[data-layer="1"]`)), ready("#/layer/"+f.app.ID.String()+"/1"))
		top := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#tree > li")].map(l => l.dataset.path + ":" + l.dataset.status)`)
		run(t, chromedp.Click(css(`#tree li[data-path="/tmp"] > span.name`)), chromedp.WaitVisible(css(`#tree li[data-path="/tmp/junk"]`)))
		sub := evaluate[[]string](t, ctx, `[...document.querySelectorAll('#tree li[data-path="/tmp"] li')].map(l => l.dataset.path + ":" + l.dataset.status)`)
		if got := strings.Join(top, " "); got != "/etc:modified /tmp:modified /usr:added" {
			t.Errorf("layer 1's tree: %s", got)
		}
		if got := strings.Join(sub, " "); got != "/tmp/junk:removed" {
			t.Errorf("layer 1's /tmp: %s", got)
		}
		screenshot(t, ctx, shots, "layer")
	})

	t.Run("delete", func(t *testing.T) {
		run(t, chromedp.Navigate(f.ts.URL+"/#/images"), ready("#/images"),
			chromedp.Click(css(`tr[data-ref="example.com/base:1"] input.select`)),
			chromedp.Click(css(`tr[data-ref="example.com/app:latest"] input.select`)),
			chromedp.Click(css("#delete")),
			chromedp.WaitVisible(css("#message.err")))
		msg := text(t, ctx, "#message")
		if !strings.Contains(msg, "Untagged: example.com/base:1") || !strings.Contains(msg, "Deleted: "+f.base.ID.String()) {
			t.Errorf("delete message lacks base's removal:\n%s", msg)
		}
		if !strings.Contains(msg, `conflict: unable to remove repository reference "example.com/app:latest" (must force) - container`) {
			t.Errorf("delete message lacks docker's refusal:\n%s", msg)
		}
		run(t, chromedp.WaitNotPresent(css(`tr[data-ref="example.com/base:1"]`)))
		if _, err := f.st.Resolve("example.com/app:latest"); err != nil {
			t.Errorf("the image in use went: %v", err)
		}
		screenshot(t, ctx, shots, "delete")
	})

	t.Run("prune preview", func(t *testing.T) {
		d := f.dangling
		want := d.Layers[0].Size + d.Config.Size + d.Manifest.Size
		run(t, chromedp.Click(css("#prune-preview")), chromedp.WaitVisible(css("#prune-summary")))
		count := evaluate[string](t, ctx, `document.getElementById("prune-summary").dataset.count`)
		bytes := evaluate[string](t, ctx, `document.getElementById("prune-summary").dataset.bytes`)
		if count != "1" || bytes != strconv.FormatInt(want, 10) {
			t.Fatalf("preview: %s images, %s bytes; want 1, %d", count, bytes, want)
		}
		screenshot(t, ctx, shots, "prune")
		run(t, chromedp.Click(css("#prune-go")), chromedp.WaitVisible(css("#message.ok")))
		if msg := text(t, ctx, "#message"); !strings.Contains(msg, "Deleted 1 image(s)") {
			t.Errorf("prune: %s", msg)
		}
		if _, err := f.st.Image(d.ID); err == nil {
			t.Errorf("prune left the dangling image")
		}
	})

	t.Run("pull shows progress", func(t *testing.T) {
		platform := runtime.GOOS + "/" + runtime.GOARCH
		reg.PutImage(t, "pulled/img", "v1", platform,
			testutil.Tar(t, testutil.File("a", strings.Repeat("a", 300000))), testutil.Tar(t, testutil.File("b", "b")))
		ref := reg.Host + "/pulled/img:v1"
		run(t, chromedp.SendKeys(css("#pull-ref"), ref), chromedp.Click(css("#pull-go")),
			chromedp.WaitVisible(css("#pull-status.done")),
			chromedp.WaitVisible(css(fmt.Sprintf(`tr[data-ref="%s"]`, ref))))
		layers := evaluate[int](t, ctx, `document.querySelectorAll("#pull-progress .pull-layer").length`)
		if status := text(t, ctx, "#pull-status"); layers < 2 || !strings.Contains(status, "Pulled "+ref) {
			t.Errorf("pull: %d layers shown, status %q", layers, status)
		}
		screenshot(t, ctx, shots, "pull")
	})

	t.Run("containers page", func(t *testing.T) {
		run(t, chromedp.Navigate(f.ts.URL+"/#/containers"), ready("#/containers"))
		if body := text(t, ctx, "#containers tbody"); !strings.Contains(body, "web") || !strings.Contains(body, "created") {
			t.Errorf("containers page: %s", body)
		}
		screenshot(t, ctx, shots, "containers")
	})

	t.Run("no token, no page", func(t *testing.T) {
		// Another host name is another origin: the cookie is not sent.
		other := strings.Replace(f.ts.URL, "127.0.0.1", "localhost", 1)
		run(t, chromedp.Navigate(other+"/#/images"))
		if body := text(t, ctx, "body"); !strings.Contains(body, "no token") || strings.Contains(body, "example.com") {
			t.Errorf("without the token: %s", body)
		}
	})
}
