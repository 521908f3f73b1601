package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// TestTriggerClaimsTheKey pins the door for runs on demand: a key running
// under a live lease is left alone (ErrRunning); once that lease expired
// the dead attempt is recorded interrupted and the key runs again; a
// finished key runs again as its next attempt; and the job's retries count
// the attempts of the call, not of the key.
func TestTriggerClaimsTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t, 50)
	ctx := context.Background()
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv\nretries: {max_attempts: 2, backoff: 1ms, max_backoff: 1ms}")
	scheduled := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	t0 := time.Date(2026, 3, 1, 6, 0, 5, 0, time.UTC)
	clock := newFakeClock(t0)
	trig := &jobs.Trigger{Runner: b.runner, Clock: clock, Replica: "here", Lease: time.Minute}

	dead, claimed, err := b.store.Claim(ctx, job.Name, scheduled, "killed", t0, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)

	run, err := trig.Run(ctx, job, scheduled, jobs.TriggerOptions{})
	require.ErrorIs(t, err, jobs.ErrRunning, "the lease is live")
	require.Equal(t, dead.ID, run.ID)

	clock.AdvanceTo(t0.Add(time.Minute))
	run, err = trig.Run(ctx, job, scheduled, jobs.TriggerOptions{})
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, run.Status)
	require.Equal(t, 2, run.Attempt)
	got, err := b.store.GetRun(ctx, dead.ID)
	require.NoError(t, err)
	require.Equal(t, state.Interrupted, got.Status)
	require.Equal(t, state.ClassLeaseExpired, got.ErrorClass)
	require.Contains(t, got.Error, `"killed"`)

	trig.Clock = nil // the retry's backoff waits on the wall clock: 1ms
	b.srv.DropNextRun(10)
	run, err = trig.Run(ctx, job, scheduled, jobs.TriggerOptions{})
	require.NoError(t, err, "attempt 3 dropped, attempt 4 is this call's second")
	require.Equal(t, 4, run.Attempt)

	b.srv.DropNextRun(10)
	run, err = trig.Run(ctx, job, scheduled, jobs.TriggerOptions{NoRetry: true})
	require.Error(t, err)
	require.Equal(t, jobs.ClassRetryable, run.ErrorClass)
	require.Equal(t, 5, run.Attempt)
	attempts, err := b.store.Attempts(ctx, job.Name, scheduled)
	require.NoError(t, err)
	require.Len(t, attempts, 5)
}
