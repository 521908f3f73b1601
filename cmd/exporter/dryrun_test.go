package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const dryRunJob = `  - name: window
    schedule: '0 6 * * *'
    source:
      look_id: "42"
      filters: {orders.created_date: '{{ .PrevScheduledTime.Format "2006-01-02" }} to {{ .ScheduledTime.Format "2006-01-02" }}'}
    format: csv
    destination: '$DIR/out/dt={{ date "2006-01-02" }}.csv'
`

// requireNothingRan: no query reached the sandbox, no file was written
// beside the config, and the state store holds no run.
func requireNothingRan(t *testing.T, f *fixture) {
	t.Helper()
	srv := f.srv
	require.Zero(t, srv.Requests("run_look")+srv.Requests("run_query")+srv.Requests("run_inline_query")+
		srv.Requests("run_sql_query")+srv.Requests("create_query_task")+srv.Requests("create_query"), "a dry run runs and creates nothing")
	require.NoDirExists(t, filepath.Join(f.dir, "out"))
	if _, err := os.Stat(filepath.Join(f.dir, "state.db")); err == nil {
		require.Empty(t, f.runs(t))
	}
}

func TestRunDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dryRunJob)
	code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, "window", "--dry-run", "--at", "2026-11-27T06:00:00Z")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "dry run of job window: 1 fire(s)")
	require.Contains(t, stdout, "2026-11-27T06:00:00Z  look 42")
	require.Contains(t, stdout, "filter orders.created_date: 2026-11-26 to 2026-11-27")
	require.Contains(t, stdout, "would write "+f.dir+"/out/dt=2026-11-27.csv")
	requireNothingRan(t, f)

	code, stdout, stderr = exec(t, context.Background(), "run", "--config", f.conf, "window", "--dry-run", "--at", "2026-11-27T06:00:00Z", "-o", "json")
	require.Equal(t, exitOK, code, stderr)
	var out []checkedJob
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), stdout)
	require.Len(t, out, 1)
	require.Equal(t, "2026-11-26 to 2026-11-27", out[0].Filters["orders.created_date"])
	require.Equal(t, f.dir+"/out/dt=2026-11-27.csv", out[0].Destination)
	requireNothingRan(t, f)
}

func TestBackfillDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dryRunJob)
	code, stdout, stderr := exec(t, context.Background(), "backfill", "--config", f.conf, "window", "--from", "2026-11-01", "--to", "2026-11-04", "--dry-run")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "dry run of job window: 3 fire(s)")
	for _, d := range []string{"01", "02", "03"} {
		require.Contains(t, stdout, "would write "+f.dir+"/out/dt=2026-11-"+d+".csv")
	}
	require.Contains(t, stdout, "filter orders.created_date: 2026-10-31 to 2026-11-01")
	requireNothingRan(t, f)
}

// A dry run of a job whose source Looker refuses fails like check does,
// naming the job, and still runs nothing.
func TestDryRunReportsProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - {name: missing, schedule: '@daily', source: {look_id: "404"}, format: csv, destination: '$DIR/out/m.csv'}
`)
	code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, "missing", "--dry-run")
	require.Equal(t, exitFailed, code, stdout)
	require.Contains(t, stdout, "error: ")
	require.Contains(t, stderr, "dry run of job missing")
	requireNothingRan(t, f)
}

// A dry run of a dashboard exported tile by tile prints each tile's file
// and the dashboard's filter values for the fire.
func TestRunDryRunDashboardTiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - {name: tiles, schedule: '0 6 * * *', source: {dashboard_id: "7", filters: {Country: DE}}, format: csv, destination: '$DIR/out/{{ date "2006-01-02" }}/{{ .Tile }}.csv'}
`)
	code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, "tiles", "--dry-run", "--at", "2026-11-27T06:00:00Z")
	require.Equal(t, exitOK, code, stdout+stderr)
	require.Contains(t, stdout, "2026-11-27T06:00:00Z  dashboard 7")
	require.Contains(t, stdout, "dashboard filter Country: DE")
	require.Regexp(t, `would write `+f.dir+`/out/2026-11-27/[^ ]+-101\.csv \(tile "Orders by day"\)`, stdout)
	require.NotContains(t, stdout, "untitled", "a text tile writes nothing")
	requireNothingRan(t, f)
}
