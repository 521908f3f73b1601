package jobs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// TestRootRefusesSymlinkEscape: a job with root: whose destination leaves
// the root through a symlink fails permanently, and nothing (data,
// manifest, _SUCCESS, temp file) is written where the link points: it
// fails before Looker sees the query.
func TestRootRefusesSymlinkEscape(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	root := filepath.Join(b.dir, "root")
	require.NoError(t, os.MkdirAll(root, 0o750))
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "orders")))
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\nroot: $DIR/root\ndestination: '{{ .Job }}/dt={{ .ScheduledTime.Format \"2006-01-02\" }}/orders.csv'")
	run, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
	require.ErrorContains(t, err, "leaves the root "+root+" through a symlink")
	require.Equal(t, state.Failed, run.Status)
	require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
	for _, op := range []string{"run_look", "run_query", "create_query", "run_inline_query", "create_query_task"} {
		require.Zero(t, b.srv.Requests(op), "Looker saw %s", op)
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries)

	// The same job writes once the link is gone.
	require.NoError(t, os.Remove(filepath.Join(root, "orders")))
	run, err = b.run(t.Context(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, run.Status)
}
