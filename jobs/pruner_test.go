package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// TestPruner: runs that finished more than the retention ago go when the
// pruner starts and at every turn after, on the pruner's clock.
func TestPruner(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	t0 := time.Date(2031, 7, 1, 6, 0, 0, 0, time.UTC)
	finished := func(job string, at time.Time) state.Run {
		run, claimed, err := b.store.Claim(ctx, job, at, "r", at, time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		_, err = b.store.FinishRun(ctx, run.ID, state.Result{Status: state.Failed, Error: "x"}, at)
		require.NoError(t, err)
		return run
	}
	old := finished("orders", t0.Add(-50*time.Hour))
	mid := finished("orders", t0.Add(-23*time.Hour-30*time.Minute))
	recent := finished("orders", t0.Add(-10*time.Hour))
	exists := func(run state.Run) bool {
		_, err := b.store.GetRun(ctx, run.ID)
		if err != nil {
			require.ErrorIs(t, err, state.ErrNotFound)
		}
		return err == nil
	}

	clock := newFakeClock(t0)
	p := &jobs.Pruner{Store: b.store, Retention: 24 * time.Hour, Clock: clock, Log: b.log}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); p.Run(pctx) }()

	clock.waitTimers(t, 1) // the first prune is done, the next turn is an hour away
	require.False(t, exists(old), "finished 50h ago, retention 24h")
	require.True(t, exists(mid))

	clock.Advance(59 * time.Minute)
	require.True(t, exists(mid), "no turn before the hour")
	clock.Advance(time.Minute)
	clock.waitTimers(t, 1)
	require.False(t, exists(mid), "the hourly turn")
	require.True(t, exists(recent))
	clock.AdvanceTo(t0.Add(15 * time.Hour)) // now recent finished 25h ago
	clock.waitTimers(t, 1)
	require.False(t, exists(recent))

	stop()
	<-done
}

func TestPrunerKeepsEverythingWithoutRetention(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	t0 := time.Date(2031, 7, 1, 6, 0, 0, 0, time.UTC)
	run, _, err := b.store.Claim(ctx, "orders", t0.AddDate(-5, 0, 0), "r", t0.AddDate(-5, 0, 0), time.Minute)
	require.NoError(t, err)
	_, err = b.store.FinishRun(ctx, run.ID, state.Result{Status: state.Failed, Error: "x"}, t0.AddDate(-5, 0, 0))
	require.NoError(t, err)
	p := &jobs.Pruner{Store: b.store, Clock: newFakeClock(t0), Log: b.log}
	p.Run(ctx) // returns at once: nothing to do, ever
	_, err = b.store.GetRun(ctx, run.ID)
	require.NoError(t, err, "kept forever")
}
