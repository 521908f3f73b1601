package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/require"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium for one test. Without Chromium the
// test fails in CI and is skipped elsewhere, saying how to install it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := "headless Chromium is needed at " + chromiumPath + ": install it with `apt-get install -y chromium` (.ci/run does)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// The on-call path in a real browser: the job table, a failed run's error
// and log, then Run now (after signing in) and the new run appearing.
func TestBrowserStatusPage(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	d := startDaemon(t, "127.0.0.1:9464")
	d.failNextLook()
	failed := d.runNow(t, "orders_csv")
	require.Equal(t, "failed", failed.Status)
	ok := d.runNow(t, "orders_jsonl")
	require.Equal(t, "succeeded", ok.Status)
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err, id)
		return s
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.ID("jobs"))))
	jobsTable := text("jobs")
	require.Contains(t, jobsTable, "orders_csv")
	require.Contains(t, jobsTable, "orders_jsonl")
	require.Contains(t, jobsTable, "every day at 06:00")
	require.Contains(t, jobsTable, "every 15 minutes on weekdays")
	require.Contains(t, jobsTable, "Europe/Berlin")
	require.Contains(t, jobsTable, "failed")
	require.Contains(t, jobsTable, "succeeded")
	screenshot(t, ctx, "status.png")

	// Open the failed run from the job table.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#jobs a[href="/runs/`+failed.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("run-error")),
	))
	runErr, logText := text("run-error"), text("log")
	// Cause first: the run id is the page's, not a prefix of the error.
	require.True(t, strings.HasPrefix(runErr, "404 "), runErr)
	require.Contains(t, runErr, "not found, or the Looker user running it (the API user, or run_as) has no permission to it (folder access, model set)")
	require.Contains(t, logText, "run started")
	require.Contains(t, logText, "run failed")
	require.Contains(t, logText, "error_class=permanent")
	screenshot(t, ctx, "run.png")

	// Run now: sign in with the token, then press the button.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(d.base+"/jobs/orders_csv"),
		chromedp.Click(chromedp.CSS(`a[href="/login?next=/jobs/orders_csv"]`)),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), d.token),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("run-now")),
		chromedp.Click(chromedp.ID("run-now")),
		chromedp.WaitVisible(chromedp.ID("log")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	newID, found := strings.CutPrefix(loc, d.base+"/runs/")
	require.True(t, found, loc)
	require.NotEqual(t, failed.ID, newID)

	// The new run appears in the job's run list (poll with a deadline).
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(d.base+"/jobs/orders_csv"), chromedp.WaitVisible(chromedp.ID("runs"))))
		runs := text("runs")
		if strings.Contains(runs, newID) && strings.Contains(runs, "succeeded") {
			break
		}
		require.True(t, time.Now().Before(deadline), "run %s did not appear: %s", newID, runs)
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	screenshot(t, ctx, "job.png")
	done := d.waitRun(t, newID)
	require.Equal(t, "succeeded", done.Status)
	code, _ := d.do(t, http.MethodGet, "/api/v1/runs/"+newID, false)
	require.Equal(t, http.StatusOK, code)
}

// The on-call page on a phone (an iPhone 12's 390×844 viewport, as a
// mobile browser lays it out): the header counts the failing job, the
// failing job sorts first, and its status and last success are on screen
// without horizontal scrolling.
func TestBrowserOnCallPhone(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	screenshotOnFailure(t, ctx, "oncall-phone.png")
	d := startDaemon(t, "127.0.0.1:9464")
	ok := d.runNow(t, "orders_jsonl")
	require.Equal(t, "succeeded", ok.Status)
	d.failNextLook()
	failed := d.runNow(t, "orders_csv")
	require.Equal(t, "failed", failed.Status)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Emulate(device.IPhone12),
		chromedp.Navigate(d.base+"/"),
		chromedp.WaitVisible(chromedp.ID("oncall")),
	))
	// The script runs in the test's DevTools session; the page has none.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[phoneView](`(() => {
		const box = e => { const b = e.getBoundingClientRect(); return {left: b.left, right: b.right, top: b.top, width: b.width, text: e.innerText}; };
		const row = document.querySelector('#jobs tr[data-job="orders_csv"]');
		return {
			innerWidth: window.innerWidth, innerHeight: window.innerHeight,
			scrollWidth: document.scrollingElement.scrollWidth,
			summary: document.getElementById('oncall').innerText,
			firstJob: document.querySelector('#jobs tbody tr').dataset.job,
			status: box(row.querySelector('td.st')), lastSuccess: box(row.querySelector('td.ls')),
		};
	})()`))
	require.NoError(t, err)
	t.Logf("phone view: %+v", got)
	require.Equal(t, 390, got.InnerWidth, "the phone's viewport")
	require.LessOrEqual(t, got.ScrollWidth, 390, "the page scrolls sideways on a phone")
	require.Contains(t, got.Summary, "1 failing")
	require.Contains(t, got.Summary, "0 stale")
	require.Equal(t, "orders_csv", got.FirstJob, "the failing job comes first")
	for name, b := range map[string]elementBox{"status": got.Status, "last success": got.LastSuccess} {
		require.Greater(t, b.Width, 0.0, "%s is hidden", name)
		require.GreaterOrEqual(t, b.Left, 0.0, name)
		require.LessOrEqual(t, b.Right, 390.0, "%s is off screen to the right", name)
		require.Less(t, b.Top, float64(got.InnerHeight), "%s is below the first screen", name)
	}
	require.Contains(t, got.Status.Text, "failed")
	require.Contains(t, got.Status.Text, "FAILING")
	require.Contains(t, got.LastSuccess.Text, "none")
	screenshot(t, ctx, "oncall-phone.png")

	// The failing job's page and its failed run's page fit the phone too.
	for path, wait := range map[string]string{"/jobs/orders_csv": "runs", "/runs/" + failed.ID: "run-error"} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(d.base+path), chromedp.WaitVisible(chromedp.ID(wait))))
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scrollingElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 390, "%s scrolls sideways on a phone", path)
	}
}

// phoneView is what TestBrowserOnCallPhone measures in the page.
type phoneView struct {
	InnerWidth, InnerHeight, ScrollWidth int
	Summary, FirstJob                    string
	Status, LastSuccess                  elementBox
}

// elementBox is an element's place on screen and its text.
type elementBox struct {
	Left, Right, Top, Width float64
	Text                    string
}

// screenshotOnFailure saves the page as name when the test fails: to
// $EXPORTER_SCREENSHOTS when set, else to a kept temporary directory (a
// t.TempDir would be gone before anyone looked), and logs where.
func screenshotOnFailure(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() || ctx.Err() != nil {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("no screenshot of the failure: %v", err)
			return
		}
		dir := os.Getenv("EXPORTER_SCREENSHOTS")
		if dir == "" {
			if dir, err = os.MkdirTemp("", "exporter-browser-"); err != nil {
				t.Logf("no screenshot of the failure: %v", err)
				return
			}
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Logf("no screenshot of the failure: %v", err)
			return
		}
		t.Logf("screenshot of the failure: %s", path)
	})
}

// screenshot saves the page to $EXPORTER_SCREENSHOTS/name when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("EXPORTER_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}
