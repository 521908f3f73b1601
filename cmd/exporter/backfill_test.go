package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
)

func TestBackfillCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "  - {name: daily, schedule: '0 6 * * *', timezone: Europe/Berlin, source: {look_id: '42'}, format: csv,\n"+
		"     destination: '$DIR/out/dt={{ date \"2006-01-02\" }}.csv'}\n")
	code, stdout, stderr := exec(t, context.Background(), "backfill", "--config", f.conf, "daily", "--from", "2026-11-01", "--to", "2026-11-08", "--parallel", "3")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "7 partitions: 7 succeeded, 0 skipped, 0 failed")
	require.Contains(t, stdout, "[7/7]")
	for _, d := range []string{"01", "04", "07"} {
		require.FileExists(t, f.dir+"/out/dt=2026-11-"+d+".csv")
	}

	code, stdout, stderr = exec(t, context.Background(), "backfill", "--config", f.conf, "daily", "--from", "2026-11-01", "--to", "2026-11-08")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "7 partitions: 0 succeeded, 7 skipped, 0 failed")
	runs := f.runs(t)
	require.Len(t, runs, 7)
	for _, r := range runs {
		require.Equal(t, state.Succeeded, r.Status)
	}

	code, _, stderr = exec(t, context.Background(), "backfill", "--config", f.conf, "daily", "--from", "2026-11-08", "--to", "2026-11-01")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "must be before")
	code, _, stderr = exec(t, context.Background(), "backfill", "--config", f.conf, "daily", "--from", "last week", "--to", "2026-11-01")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "RFC 3339")
}
