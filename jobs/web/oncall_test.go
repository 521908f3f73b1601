package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

const testToken = "0123456789abcdef0123"

// onCall is a status server on a still clock over a real SQLite store.
type onCall struct {
	srv   *web.Server
	store state.Store
	now   time.Time
}

func newOnCall(t *testing.T, server config.Server, jobList ...*config.Job) *onCall {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	if server.Listen == "" {
		server.Listen = "127.0.0.1:9464"
	}
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	cfg := &config.Config{Path: "jobs.yaml", Server: server, Jobs: jobList}
	srv, err := web.New(web.Options{Config: cfg, Store: store, Runner: &jobs.Runner{Store: store, Clock: stillClock{now}}, Clock: stillClock{now}})
	require.NoError(t, err)
	return &onCall{srv: srv, store: store, now: now}
}

func dailyJob(t *testing.T, name string) *config.Job {
	t.Helper()
	s, err := config.ParseSchedule("0 6 * * *", time.UTC)
	require.NoError(t, err)
	return &config.Job{Name: name, Schedule: s, ScheduleSpec: "0 6 * * *", Location: time.UTC}
}

// record stores a finished attempt of job scheduled at scheduled.
func (o *onCall) record(t *testing.T, job string, scheduled time.Time, status state.Status, errText string) state.Run {
	t.Helper()
	ctx := context.Background()
	run, claimed, err := o.store.Claim(ctx, job, scheduled, "r1", scheduled, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)
	_, err = o.store.FinishRun(ctx, run.ID, state.Result{Status: status, Error: errText, ErrorClass: map[bool]string{true: "permanent"}[errText != ""]}, scheduled.Add(time.Minute))
	require.NoError(t, err)
	return run
}

// get serves one request; host "" means 127.0.0.1:9464.
func (o *onCall) get(t *testing.T, path, host string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "127.0.0.1:9464"
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	o.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// TestOnCallPage: the header counts failing and stale jobs, they sort
// first (failing, then stale, then the rest in config order), the page
// refreshes itself and says when it was rendered; the API reports each
// job's health the same way.
func TestOnCallPage(t *testing.T) {
	t.Parallel()
	o := newOnCall(t, config.Server{}, dailyJob(t, "a_ok"), dailyJob(t, "b_stale"), dailyJob(t, "c_failed"), dailyJob(t, "d_interrupted"), dailyJob(t, "e_never"))
	today := time.Date(2026, 3, 28, 6, 0, 0, 0, time.UTC)
	o.record(t, "a_ok", today, state.Succeeded, "")
	o.record(t, "b_stale", today.AddDate(0, 0, -3), state.Succeeded, "")
	o.record(t, "c_failed", today.AddDate(0, 0, -1), state.Succeeded, "")
	o.record(t, "c_failed", today, state.Failed, "Looker answered 404 <not found>")
	o.record(t, "d_interrupted", today, state.Interrupted, "interrupted by shutdown")

	rec := o.get(t, "/", "127.0.0.1:9464")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := rec.Body.String()
	require.Contains(t, body, `<meta http-equiv="refresh" content="30">`)
	summary := regexp.MustCompile(`(?s)<p id="oncall"[^>]*>(.*?)</p>`).FindStringSubmatch(body)
	require.NotNil(t, summary, body)
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(summary[1], "")
	require.Contains(t, text, "2 failing")
	require.Contains(t, text, "1 stale")
	require.Contains(t, text, "of 5 jobs")
	require.Contains(t, body, "Rendered 2026-03-28 12:00:00 UTC")

	var order []string
	for _, m := range regexp.MustCompile(`<tr class="job h-(\w+)" data-job="(\w+)"`).FindAllStringSubmatch(body, -1) {
		order = append(order, m[2]+":"+m[1])
	}
	require.Equal(t, []string{"c_failed:failing", "d_interrupted:failing", "b_stale:stale", "a_ok:ok", "e_never:never"}, order)
	require.Contains(t, body, "Looker answered 404 &lt;not found&gt;")

	rec = o.get(t, "/api/v1/jobs", "127.0.0.1:9464")
	require.Equal(t, http.StatusOK, rec.Code)
	var got struct{ Jobs []web.JobInfo }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	health := map[string]string{}
	for _, j := range got.Jobs {
		health[j.Name] = j.Health
	}
	require.Equal(t, map[string]string{"a_ok": "ok", "b_stale": "stale", "c_failed": "failing", "d_interrupted": "failing", "e_never": "never"}, health)

	// The sign-in page holds a form: it must not reload under the user.
	rec = o.get(t, "/login", "127.0.0.1:9464")
	require.NotContains(t, rec.Body.String(), `http-equiv="refresh"`)
}

// TestOnCallAllClear: with nothing failing or stale the header says so.
func TestOnCallAllClear(t *testing.T) {
	t.Parallel()
	j := dailyJob(t, "a_ok")
	j.MaxStaleness = 7 * time.Hour
	o := newOnCall(t, config.Server{}, j)
	o.record(t, "a_ok", time.Date(2026, 3, 28, 6, 0, 0, 0, time.UTC), state.Succeeded, "")
	body := o.get(t, "/", "").Body.String()
	require.Contains(t, body, "All 1 jobs OK")
	require.Contains(t, body, `class="job h-ok"`)

	j.MaxStaleness = 5 * time.Hour // the same run is now older than max_staleness
	body = o.get(t, "/", "").Body.String()
	require.Contains(t, body, `class="job h-stale"`)
}

// TestHostCheckOnLoopback: listening on loopback, the server answers only
// requests addressed to a loopback name or server.external_url's host, so
// a DNS-rebinding page (evil.example resolving to 127.0.0.1) cannot read
// job names, errors and logs. Probes stay open.
func TestHostCheckOnLoopback(t *testing.T) {
	t.Parallel()
	o := newOnCall(t, config.Server{ExternalURL: "https://exporter.example.com"}, dailyJob(t, "a_ok"))
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"127.0.0.1:9464", "/", http.StatusOK},
		{"localhost:9464", "/api/v1/jobs", http.StatusOK},
		{"LOCALHOST", "/", http.StatusOK},
		{"[::1]:9464", "/jobs/a_ok", http.StatusOK},
		{"127.0.0.1", "/api/v1/runs", http.StatusOK},
		{"exporter.example.com", "/", http.StatusOK},
		{"evil.example:9464", "/", http.StatusMisdirectedRequest},
		{"evil.example:9464", "/api/v1/jobs", http.StatusMisdirectedRequest},
		{"evil.example", "/jobs/a_ok", http.StatusMisdirectedRequest},
		{"localhost.evil.example:9464", "/", http.StatusMisdirectedRequest},
		{"exporter.example.com.evil.example", "/", http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io:9464", "/api/v1/runs", http.StatusMisdirectedRequest},
		{"evil.example:9464", "/healthz", http.StatusOK},
		{"evil.example:9464", "/readyz", http.StatusOK},
	} {
		rec := o.get(t, tc.path, tc.host)
		require.Equal(t, tc.want, rec.Code, "Host %s %s: %s", tc.host, tc.path, rec.Body.String())
		if tc.want == http.StatusMisdirectedRequest {
			require.NotContains(t, rec.Body.String(), "a_ok")
			require.Contains(t, rec.Body.String(), "server.external_url")
		}
	}

	// Beyond loopback the token guards the server, whatever the Host.
	wide := newOnCall(t, config.Server{Listen: "0.0.0.0:9464", Token: testToken}, dailyJob(t, "a_ok"))
	rec := wide.get(t, "/api/v1/jobs", "10.1.2.3:9464", "Authorization", "Bearer "+testToken)
	require.Equal(t, http.StatusOK, rec.Code)
}

// TestLoginNextStaysOnSite: after signing in, the redirect goes only to a
// path of this site; tab, newline and backslash tricks that browsers turn
// into another origin go to /.
func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	o := newOnCall(t, config.Server{Token: testToken}, dailyJob(t, "a_ok"))
	for next, want := range map[string]string{
		"/jobs/a_ok":         "/jobs/a_ok",
		"/runs/01X?tab=log":  "/runs/01X?tab=log",
		"/\t/evil.example":   "/",
		"/\n/evil.example":   "/",
		"/\r/evil.example":   "/",
		"//evil.example":     "/",
		"/\\evil.example":    "/",
		"/\\/evil.example":   "/",
		"\\\\evil.example":   "/",
		"https://evil.ex":    "/",
		"javascript:alert()": "/",
		"/ok/\\..\\evil":     "/",
		"":                   "/",
	} {
		form := url.Values{"token": {testToken}, "next": {next}}
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		req.Host = "127.0.0.1:9464"
		req.Header.Set("Origin", "http://127.0.0.1:9464")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		o.srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusSeeOther, rec.Code, "next %q: %s", next, rec.Body.String())
		require.Equal(t, want, rec.Header().Get("Location"), "next %q", next)

		page := o.get(t, "/login?next="+url.QueryEscape(next), "127.0.0.1:9464").Body.String()
		require.Contains(t, page, `name="next" value="`+want+`"`, "next %q", next)
	}
}

// TestNoticeIsNotReflected: ?notice= picks one of the page's own notices;
// any other text is ignored, so a link cannot put words on the page.
func TestNoticeIsNotReflected(t *testing.T) {
	t.Parallel()
	o := newOnCall(t, config.Server{}, dailyJob(t, "a_ok"))
	body := o.get(t, "/jobs/a_ok?notice=busy", "").Body.String()
	require.Contains(t, body, `<div class="notice" id="notice">A run of this job is already in flight`)
	for _, n := range []string{"Your token expired: sign in at evil.example", "<b>x</b>", "Busy"} {
		body = o.get(t, "/jobs/a_ok?notice="+url.QueryEscape(n), "").Body.String()
		require.NotContains(t, body, `id="notice"`, n)
		require.NotContains(t, body, "evil.example")
	}
}

// TestRunNowBusyNotice: Run now of a key another replica holds redirects
// to the job page with the busy notice, by its id.
func TestRunNowBusyNotice(t *testing.T) {
	t.Parallel()
	o := newOnCall(t, config.Server{Token: testToken}, dailyJob(t, "a_ok"))
	_, claimed, err := o.store.Claim(context.Background(), "a_ok", o.now, "other-replica", o.now, time.Hour)
	require.NoError(t, err)
	require.True(t, claimed)
	req := httptest.NewRequest(http.MethodPost, "/jobs/a_ok/run", nil)
	req.Host = "127.0.0.1:9464"
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	o.srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Equal(t, "/jobs/a_ok?notice=busy", rec.Header().Get("Location"))
	body := o.get(t, rec.Header().Get("Location"), "").Body.String()
	require.Contains(t, body, `id="notice">A run of this job is already in flight`)
}
