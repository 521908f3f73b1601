package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

// TestSkippedRunShowsItsReason: a when: changed job run twice on the same
// data says why the second published nothing, in `exporter run`, in
// `exporter history` (text and JSON) and on the run's page; the
// destination holds the first run's output only.
func TestSkippedRunShowsItsReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "  - {name: orders, schedule: '0 6 * * *', source: {look_id: '42'}, format: csv, when: changed, destination: '$DIR/out/orders.csv'}\n")
	ctx := context.Background()
	code, out, errOut := exec(t, ctx, "run", "orders", "--config", f.conf, "--at", "2026-11-27T06:00:00Z")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, ": succeeded,")
	code, out, errOut = exec(t, ctx, "run", "orders", "--config", f.conf, "--at", "2026-11-28T06:00:00Z")
	require.Equal(t, 0, code, "a skip is not a failure: %s", errOut)

	runs := f.runs(t)
	require.Len(t, runs, 2)
	skipped, published := runs[0], runs[1]
	reason := fmt.Sprintf("when: changed: same content as run %s published %s", published.ID, published.FinishedAt.UTC().Format(time.RFC3339))
	require.Equal(t, state.Skipped, skipped.Status)
	require.Equal(t, reason, skipped.Error)
	require.Contains(t, out, ": skipped,")
	require.Contains(t, out, "  nothing published: "+reason+"\n")

	code, out, errOut = exec(t, ctx, "history", "orders", "--config", f.conf)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, reason, "the reason, whole")
	code, out, errOut = exec(t, ctx, "history", "orders", "--config", f.conf, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var hist []web.RunInfo
	require.NoError(t, json.Unmarshal([]byte(out), &hist))
	require.Equal(t, "skipped", hist[0].Status)
	require.Equal(t, state.ClassCondition, hist[0].ErrorClass)
	require.Equal(t, reason, hist[0].Error)
	require.Equal(t, published.ContentHash, hist[0].ContentHash)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, hist[1].ContentHash)

	entries, err := os.ReadDir(filepath.Join(f.dir, "out"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	require.Equal(t, []string{"_SUCCESS", "_manifest.json", "orders.csv"}, names)

	// The run's page says it was skipped, and why, not that it failed.
	cfg, err := config.Load(f.conf, config.Options{})
	require.NoError(t, err)
	store, err := sqlite.Open(ctx, filepath.Join(f.dir, "state.db"))
	require.NoError(t, err)
	defer store.Close()
	srv, err := web.New(web.Options{Config: cfg, Store: store, Runner: &jobs.Runner{Store: store, Log: zaptest.NewLogger(t)}, Log: zaptest.NewLogger(t)})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/runs/"+skipped.ID, nil)
	req.Host = "127.0.0.1:9464" // loopback: the server answers loopback names only
	srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `<div class="notice" id="run-skip"><strong>Skipped by the job's send condition, nothing published:</strong> `+reason+`</div>`)
	require.NotContains(t, rec.Body.String(), `id="run-error"`)
}
