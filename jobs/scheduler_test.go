package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

type schedFixture struct {
	*bundle
	clock *fakeClock
	sched *jobs.Scheduler
	stop  context.CancelFunc
	done  chan error
}

func startScheduler(t *testing.T, b *bundle, start time.Time, drain time.Duration, jobsYAML ...string) *schedFixture {
	t.Helper()
	clock := newFakeClock(start)
	s := &jobs.Scheduler{Runner: b.runner, Clock: clock, Log: b.log, DrainTimeout: drain}
	for i, y := range jobsYAML {
		s.Jobs = append(s.Jobs, b.job(t, "job"+string(rune('a'+i)), y))
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &schedFixture{bundle: b, clock: clock, sched: s, stop: cancel, done: make(chan error, 1)}
	go func() { f.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(20 * time.Second):
			t.Error("scheduler did not stop")
		}
	})
	return f
}

func (f *schedFixture) runs(t *testing.T) []state.Run {
	t.Helper()
	runs, err := f.store.ListRuns(context.Background(), state.ListOptions{})
	require.NoError(t, err)
	return runs
}

func (f *schedFixture) waitRuns(t *testing.T, n int, status state.Status) []state.Run {
	t.Helper()
	var runs []state.Run
	eventually(t, "runs to finish", func() bool {
		runs = f.runs(t)
		done := 0
		for _, r := range runs {
			if r.Status == status {
				done++
			}
		}
		return done >= n
	})
	return runs
}

func TestSchedulerFiresInTheJobsTimeZone(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute,
		"schedule: '0 6 * * *'\ntimezone: Europe/Berlin\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"2006-01-02T15:04Z07:00\" }}.csv'")

	// 06:00 in Berlin is 05:00 UTC in November.
	eventually(t, "the fire timer", func() bool { return f.clock.timerAt(time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)) })
	f.clock.AdvanceTo(time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC))
	runs := f.waitRuns(t, 1, state.Succeeded)
	require.Len(t, runs, 1)
	require.True(t, runs[0].ScheduledTime.Equal(time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)))
	require.Equal(t, int64(20), runs[0].Rows)
	require.FileExists(t, b.dir+"/2026-11-27T06:00+01:00.csv")

	eventually(t, "the run to leave the scheduler", func() bool { return f.sched.InFlight() == 0 })
	f.clock.waitFire(t, time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC))
	f.clock.AdvanceTo(time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC))
	runs = f.waitRuns(t, 2, state.Succeeded)
	require.True(t, runs[0].ScheduledTime.Equal(time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)))
}

func TestSchedulerSkipsAFireWhileThePreviousRunIsGoing(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute,
		"schedule: '* * * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'")
	release := make(chan struct{})
	arrived := b.srv.StallNextRun(release, false)
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	f.clock.Advance(30 * time.Second) // 06:01: fires, the run stalls in Looker
	<-arrived
	require.Equal(t, 1, f.sched.InFlight())
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC))
	f.clock.Advance(time.Minute) // 06:02: the 06:01 run is still going: skipped
	eventually(t, "the loop to move on to 06:03", func() bool {
		return f.clock.timerAt(time.Date(2026, 11, 27, 6, 3, 0, 0, time.UTC))
	})
	f.waitRuns(t, 1, state.Skipped)
	close(release)
	runs := f.waitRuns(t, 1, state.Succeeded)
	require.Len(t, runs, 2, "the 06:02 fire was skipped, not queued")
	require.Equal(t, state.Skipped, runs[0].Status, "the skipped fire is recorded")
	require.True(t, runs[0].ScheduledTime.Equal(time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC)))
	require.True(t, runs[1].ScheduledTime.Equal(time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC)))
}

func TestSchedulerDrainsThenInterrupts(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, 10*time.Minute,
		"schedule: '* * * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'")
	release := make(chan struct{})
	defer close(release)
	arrived := b.srv.StallNextRun(release, true)
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	f.clock.Advance(30 * time.Second)
	<-arrived

	f.stop() // SIGTERM: stop firing, drain
	eventually(t, "the drain timer, and no fire timer", func() bool {
		return f.clock.timerAt(time.Date(2026, 11, 27, 6, 11, 0, 0, time.UTC)) &&
			!f.clock.timerAt(time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC))
	})
	select {
	case <-f.done:
		t.Fatal("scheduler returned before the drain timeout")
	default:
	}
	f.clock.Advance(10 * time.Minute)
	require.NoError(t, <-f.done)
	f.done <- nil // for the cleanup
	runs := f.runs(t)
	require.Len(t, runs, 1)
	require.Equal(t, state.Interrupted, runs[0].Status)
	require.Equal(t, jobs.ClassCancelled, runs[0].ErrorClass)
	require.Contains(t, runs[0].Error, jobs.ErrShutdown.Error())
	require.Empty(t, b.localFiles(t))
}

// TestSchedulerSkipsWhileARunGoesElsewhereBehindManyFires: with overlap
// skip, a run in flight in another replica holds the job however many
// later fires were recorded since (skipped ones, by either replica).
// The look for it once read only the job's 20 newest attempts, so a run
// longer than 20 fires lost its hold and the job ran twice at once.
func TestSchedulerSkipsWhileARunGoesElsewhereBehindManyFires(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	ctx := context.Background()
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	// The other replica's run of 05:00, still going under a live lease,
	// then 30 fires it recorded as skipped while that run goes.
	runBehindFires(t, b.store, time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), 3*time.Hour, 30)
	f := startScheduler(t, b, start, time.Minute,
		"schedule: '* * * * *'\ncatchup: none\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'")
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	f.clock.Advance(30 * time.Second) // 06:01: the 05:00 run still goes elsewhere
	fire := time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC)
	var got state.Run
	eventually(t, "the 06:01 fire to finish", func() bool {
		runs, err := b.store.Attempts(ctx, "joba", fire)
		require.NoError(t, err)
		if len(runs) == 0 || !runs[0].Status.Terminal() {
			return false
		}
		got = runs[0]
		return true
	})
	require.Equal(t, state.Skipped, got.Status, "the 06:01 fire ran alongside the run in flight elsewhere")
	require.Zero(t, queryRuns(b.srv))
}

// TestReaperTakesOverADeadRunBehindManyFires: the reaper finds a run whose
// replica died (its lease expired) however many fires were recorded
// after it. It once read the job's 50 newest attempts only.
func TestReaperTakesOverADeadRunBehindManyFires(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	ctx := context.Background()
	dead := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	runBehindFires(t, b.store, dead, time.Minute, 60)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute,
		"schedule: '0 0 1 1 *'\ncatchup: none\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'")
	tick := start.Add(config.DefaultLease) // the reaper's first look
	f.clock.waitFire(t, tick)
	f.clock.AdvanceTo(tick)
	var attempts []state.Run
	eventually(t, "the dead run to be taken over", func() bool {
		var err error
		attempts, err = b.store.Attempts(ctx, "joba", dead)
		require.NoError(t, err)
		return len(attempts) == 2 && attempts[1].Status.Terminal()
	})
	require.Equal(t, state.Interrupted, attempts[0].Status)
	require.Equal(t, state.ClassLeaseExpired, attempts[0].ErrorClass)
	require.Equal(t, state.Succeeded, attempts[1].Status)
}

// runBehindFires records a Running attempt of joba at first, claimed by
// another replica with lease, then n later fires of joba (one a minute)
// that the other replica recorded as skipped.
func runBehindFires(t *testing.T, store state.Store, first time.Time, lease time.Duration, n int) {
	t.Helper()
	ctx := context.Background()
	_, claimed, err := store.Claim(ctx, "joba", first, "other", first, lease)
	require.NoError(t, err)
	require.True(t, claimed)
	for i := 1; i <= n; i++ {
		at := first.Add(time.Duration(i) * time.Minute)
		r, claimed, err := store.Claim(ctx, "joba", at, "other", at, time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		_, err = store.FinishRun(ctx, r.ID, state.Result{Status: state.Skipped, Error: "skipped"}, at)
		require.NoError(t, err)
	}
}
