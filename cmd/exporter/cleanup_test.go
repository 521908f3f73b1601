package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunCleansUpCrashLeftovers: a temp file left by a writer that was
// killed (it holds no lock any more) is removed, and logged, when
// `exporter run` starts; the run then succeeds. Other files stay.
func TestRunCleansUpCrashLeftovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "  - {name: j, schedule: '@daily', source: {look_id: '42'}, format: csv, destination: '$DIR/out/{{ .Job }}/dt={{ date \"2006-01-02\" }}/x.csv'}\n")
	leftover := filepath.Join(f.dir, "out", "j", "dt=2026-01-01", ".x.csv.exporter-tmp-0123456789abcdef")
	keep := filepath.Join(f.dir, "out", "j", "dt=2026-01-01", "x.csv")
	outside := filepath.Join(f.dir, ".y.csv.exporter-tmp-0123456789abcdef") // not under the job's root
	for _, p := range []string{leftover, keep, outside} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("half"), 0o644))
	}
	code, _, stderr := exec(t, context.Background(), "run", "--config", f.conf, "--log-format", "json", "j", "--at", "2026-01-02T00:00:00Z")
	require.Equal(t, 0, code, stderr)
	require.NoFileExists(t, leftover)
	require.FileExists(t, keep)
	require.FileExists(t, outside)
	require.Contains(t, stderr, "removed leftover temp file")
	require.Contains(t, stderr, leftover)
}
