package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state/sqlite"
)

// stillClock is stopped at now; its timers never fire.
type stillClock struct{ now time.Time }

func (c stillClock) Now() time.Time                                 { return c.now }
func (c stillClock) After(time.Duration) (<-chan time.Time, func()) { return nil, func() {} }
func (c stillClock) AfterFunc(time.Duration, func()) func() bool    { return func() bool { return true } }

// TestStatusServerFollowsTheJobSet: the API and the page show the jobs of
// the latest reload, with next runs on the server's clock; Run now of a
// removed job is 404.
func TestStatusServerFollowsTheJobSet(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	job := func(name, spec string) *config.Job {
		s, err := config.ParseSchedule(spec, time.UTC)
		require.NoError(t, err)
		return &config.Job{Name: name, Schedule: s, ScheduleSpec: spec, Location: time.UTC}
	}
	set := jobs.NewJobSet([]*config.Job{job("kept", "0 6 * * *"), job("gone", "0 7 * * *")})
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	cfg := &config.Config{Path: "jobs.yaml", Server: config.Server{Listen: "127.0.0.1:9464", Token: "0123456789abcdef0123"}}
	srv, err := web.New(web.Options{Config: cfg, Jobs: set.Jobs, Store: store, Runner: &jobs.Runner{}, Clock: stillClock{now}})
	require.NoError(t, err)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "127.0.0.1:9464"
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	jobsNow := func() map[string]web.JobInfo {
		code, body := get("/api/v1/jobs")
		require.Equal(t, http.StatusOK, code, body)
		var got struct{ Jobs []web.JobInfo }
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		out := map[string]web.JobInfo{}
		for _, j := range got.Jobs {
			out[j.Name] = j
		}
		return out
	}
	require.Len(t, jobsNow(), 2)

	set.Reload([]*config.Job{job("kept", "30 18 * * *"), job("added", "0 9 * * *")})
	got := jobsNow()
	require.Len(t, got, 2)
	require.Equal(t, "2026-03-28T18:30:00Z", got["kept"].NextRuns[0], "the new schedule, from the server's clock")
	require.Equal(t, "2026-03-29T09:00:00Z", got["added"].NextRuns[0])
	code, _ := get("/jobs/gone")
	require.Equal(t, http.StatusNotFound, code)
	code, body := get("/")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "<strong>gone</strong>")
	require.Contains(t, body, "<strong>added</strong>")

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/jobs/gone/run", nil)
	req.Host = "127.0.0.1:9464"
	req.Header.Set("Authorization", "Bearer 0123456789abcdef0123")
	srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusNotFound, rec.Code, rec.Body.String())
}
