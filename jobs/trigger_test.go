package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// TestTriggerTakesTheSchedulersRunSlot pins that a run on demand in a
// process whose scheduler allows one run at a time waits for the slot of
// the scheduled run going, is announced (OnStart) before it waits, keeps
// its lease renewed meanwhile, and runs once the slot is free.
func TestTriggerTakesTheSchedulersRunSlot(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	at := func(m, s int) time.Time { return time.Date(2026, 11, 27, 7, m, s, 0, time.UTC) }
	const lease = 3 * time.Minute
	f := startConfigured(t, b, at(0, 0).Add(-30*time.Second), func(s *jobs.Scheduler) {
		s.MaxConcurrentRuns, s.Lease = 1, lease
	}, "schedule: '0 7 * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ .RunID }}.csv'\n")
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free)
	arrived := b.srv.StallNextRun(release, false)
	f.clock.waitFire(t, at(0, 0))
	f.clock.AdvanceTo(at(0, 0))
	<-arrived // the scheduled run holds the one slot
	f.clock.AdvanceTo(at(0, 10))

	trig := &jobs.Trigger{Runner: b.runner, Clock: f.clock, Replica: "here", Lease: lease, Slots: f.sched}
	started := make(chan state.Run, 1)
	done := make(chan state.Run, 1)
	go func() {
		run, err := trig.Run(context.Background(), f.sched.Jobs[0], at(0, 10), jobs.TriggerOptions{
			RunOptions: jobs.RunOptions{OnStart: func(r state.Run) { started <- r }}})
		assert.NoError(t, err)
		done <- run
	}()
	var waiting state.Run
	select {
	case waiting = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the run on demand was not announced while it waits for a slot")
	}
	require.Equal(t, 1, queryRuns(b.srv), "it waits for the slot")
	require.Len(t, b.runner.InFlight(), 1)

	eventually(t, "its lease renewal", func() bool { return f.clock.timerAt(at(1, 10)) })
	f.clock.AdvanceTo(at(1, 10)) // a third of the lease
	eventually(t, "the waiting run's lease to be renewed", func() bool {
		r, err := b.store.GetRun(context.Background(), waiting.ID)
		require.NoError(t, err)
		return r.LeaseExpires.Equal(at(1, 10).Add(lease))
	})
	free()
	select {
	case run := <-done:
		require.Equal(t, state.Succeeded, run.Status)
		require.Equal(t, waiting.ID, run.ID)
	case <-time.After(10 * time.Second):
		t.Fatal("the run on demand did not run once the slot was free")
	}
	require.Equal(t, 2, queryRuns(b.srv))
	require.Len(t, started, 0, "announced once")
}
