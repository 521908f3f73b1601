package jobs_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// TestLastSuccessIsReadWhenATemplateSeesIt: a run reads the job's latest
// success for its templates only when one of them can see it
// (config.Job.SeesLastSuccess), and then renders it; the schema check
// reads it in any case.
func TestLastSuccessIsReadWhenATemplateSeesIt(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	store := &callsCounted{Store: b.store}
	b.runner.Store = store

	plain := b.job(t, "plain", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/plain/{{ .Job }}.csv'")
	require.False(t, plain.SeesLastSuccess())
	run, err := b.run(context.Background(), plain, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, run.Status, run.Error)
	require.EqualValues(t, 1, store.lastSuccesses.Load(), "the schema check's read only")

	since := b.job(t, "since", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/since/{{ .LastSuccessTime.UTC.Format \"150405\" }}.csv'")
	require.True(t, since.SeesLastSuccess())
	store.lastSuccesses.Store(0)
	first, err := b.run(context.Background(), since, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, first.Status, first.Error)
	require.EqualValues(t, 2, store.lastSuccesses.Load(), "the template's read and the schema check's")
	second, err := b.run(context.Background(), since, scheduled.Add(time.Hour), jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, second.Status, second.Error)
	require.Equal(t, []string{"file://" + filepath.Join(b.dir, "since", scheduled.UTC().Format("150405")+".csv")}, second.URIs,
		"the second run names the first one's scheduled time")
}
