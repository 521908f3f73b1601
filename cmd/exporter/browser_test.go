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
