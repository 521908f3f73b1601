package jobs_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
)

// timerAt reports whether a timer is pending at exactly at.
func (c *fakeClock) timerAt(at time.Time) bool { return c.timersAt(at) > 0 }

// startConfigured is startScheduler with the scheduler's settings set
// before it runs.
func startConfigured(t *testing.T, b *bundle, start time.Time, configure func(*jobs.Scheduler), jobsYAML ...string) *schedFixture {
	t.Helper()
	clock := newFakeClock(start)
	s := &jobs.Scheduler{Runner: b.runner, Clock: clock, Log: b.log, DrainTimeout: time.Minute}
	for i, y := range jobsYAML {
		s.Jobs = append(s.Jobs, b.job(t, "job"+string(rune('a'+i)), y))
	}
	configure(s)
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

// waitFire waits until a timer is pending at at: the loop that fires then
// is blocked on the clock and the test may advance it.
func (c *fakeClock) waitFire(t *testing.T, at time.Time) {
	t.Helper()
	eventually(t, "a timer at "+at.UTC().Format(time.RFC3339), func() bool { return c.timerAt(at) })
}

func halfJitter(s *jobs.Scheduler) { s.Jitter = func() float64 { return 0.5 } }

const everyMinute = "schedule: '* * * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'\n"

func byScheduled(runs []state.Run, at time.Time) []state.Run {
	var out []state.Run
	for _, r := range runs {
		if r.ScheduledTime.Equal(at) {
			out = append(out, r)
		}
	}
	return out
}

func TestSchedulerOverlapQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute, everyMinute+"overlap: queue")
	release := make(chan struct{})
	arrived := b.srv.StallNextRun(release, false)
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	f.clock.Advance(30 * time.Second) // 06:01 fires and stalls
	<-arrived
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC))
	f.clock.Advance(time.Minute) // 06:02 is claimed and waits
	eventually(t, "06:02 claimed", func() bool { return len(f.runs(t)) == 2 })
	eventually(t, "the loop to move on to 06:03", func() bool {
		return f.clock.timerAt(time.Date(2026, 11, 27, 6, 3, 0, 0, time.UTC))
	})
	require.Equal(t, 1, queryRuns(b.srv), "the queued run waits for the previous one")
	close(release)
	runs := f.waitRuns(t, 2, state.Succeeded)
	first := byScheduled(runs, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	second := byScheduled(runs, time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC))
	require.Len(t, first, 1)
	require.Len(t, second, 1)
	require.Equal(t, state.Succeeded, second[0].Status)
	require.False(t, second[0].FinishedAt.Before(first[0].FinishedAt))
}

func TestSchedulerOverlapAllow(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute, everyMinute+"overlap: allow")
	release := make(chan struct{})
	arrived := b.srv.StallNextRun(release, false)
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	f.clock.Advance(30 * time.Second)
	<-arrived
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC))
	f.clock.Advance(time.Minute) // 06:02 runs alongside the stalled 06:01
	runs := f.waitRuns(t, 1, state.Succeeded)
	require.True(t, runs[0].ScheduledTime.Equal(time.Date(2026, 11, 27, 6, 2, 0, 0, time.UTC)))
	close(release)
	f.waitRuns(t, 2, state.Succeeded)
}

func TestSchedulerCatchUp(t *testing.T) {
	t.Parallel()
	at := func(min int) time.Time { return time.Date(2026, 11, 27, 6, min, 0, 0, time.UTC) }
	tests := []struct {
		name string
		keys string
		want []time.Time // scheduled times run at start, besides the recorded 06:00
	}{
		{"none", "catchup: none", nil},
		{"latest", "catchup: latest", []time.Time{at(5)}},
		{"default is latest", "", []time.Time{at(5)}},
		{"all", "catchup: all", []time.Time{at(1), at(2), at(3), at(4), at(5)}},
		{"all within the window", "catchup: all\ncatchup_window: 150s", []time.Time{at(3), at(4), at(5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 5)
			ctx := context.Background()
			// A replica ran 06:00, then every replica was down until 06:05:30.
			r, claimed, err := b.store.Claim(ctx, "joba", at(0), "r0", at(0), time.Minute)
			require.NoError(t, err)
			require.True(t, claimed)
			_, err = b.store.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded}, at(0))
			require.NoError(t, err)
			f := startScheduler(t, b, at(5).Add(30*time.Second), time.Minute, everyMinute+tt.keys)
			f.waitRuns(t, len(tt.want)+1, state.Succeeded)
			f.clock.waitFire(t, at(6))
			eventually(t, "catch-up runs to finish", func() bool { return f.sched.InFlight() == 0 })
			var got []time.Time
			for _, r := range f.runs(t) {
				if !r.ScheduledTime.Equal(at(0)) {
					require.Equal(t, state.Succeeded, r.Status)
					got = append(got, r.ScheduledTime)
				}
			}
			require.Len(t, got, len(tt.want))
			sort.Slice(got, func(i, j int) bool { return got[i].Before(got[j]) })
			for i := range tt.want {
				require.True(t, tt.want[i].Equal(got[i]), "run %d: want %s, got %s", i, tt.want[i], got[i])
			}
			require.True(t, f.clock.timerAt(at(6)), "then the schedule goes on")
		})
	}
}

func TestSchedulerRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startConfigured(t, b, start, halfJitter,
		everyMinute+"retries: {max_attempts: 3, backoff: 10s, max_backoff: 15s}")
	b.srv.FailNext(lookertest.Fault{Status: 502, Count: 2, PathSuffix: "/run/csv"})
	f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
	f.clock.Advance(30 * time.Second) // 06:01
	fire := time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC)

	f.waitRuns(t, 1, state.Failed)
	// 10s, jittered to between 5s and 10s: 7.5s with jitter 0.5.
	eventually(t, "the first backoff", func() bool { return f.clock.timerAt(fire.Add(7500 * time.Millisecond)) })
	f.clock.AdvanceTo(fire.Add(7500 * time.Millisecond))
	f.waitRuns(t, 2, state.Failed)
	// 20s capped at 15s, jittered: 11.25s.
	second := fire.Add(7500*time.Millisecond + 11250*time.Millisecond)
	eventually(t, "the second backoff", func() bool { return f.clock.timerAt(second) })
	f.clock.AdvanceTo(second)
	runs := f.waitRuns(t, 1, state.Succeeded)
	require.Len(t, runs, 3)
	for i, r := range runs {
		require.True(t, r.ScheduledTime.Equal(fire), "every attempt is under the same key")
		require.Equal(t, 3-i, r.Attempt)
	}
	require.Equal(t, jobs.ClassRetryable, runs[1].ErrorClass)
	require.Equal(t, 3, queryRuns(b.srv))
}

func TestSchedulerDoesNotRetryPermanentErrorsOrPastMaxAttempts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		fault lookertest.Fault
		keys  string
		want  int
	}{
		{"permanent", lookertest.Fault{Status: 404, PathPrefix: "/looks/"}, "retries: {max_attempts: 5}", 1},
		{"max attempts", lookertest.Fault{Status: 502, Count: 5, PathPrefix: "/looks/"}, "retries: {max_attempts: 2, backoff: 1s}", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 5)
			start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
			f := startConfigured(t, b, start, halfJitter, everyMinute+tt.keys)
			b.srv.FailNext(tt.fault)
			f.clock.waitFire(t, time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC))
			f.clock.Advance(30 * time.Second)
			for i := 1; i < tt.want; i++ {
				f.waitRuns(t, i, state.Failed)
				at := f.clock.Now().Add(750 * time.Millisecond) // 1s, jittered
				eventually(t, "the backoff", func() bool { return f.clock.timerAt(at) })
				f.clock.AdvanceTo(at)
			}
			f.waitRuns(t, tt.want, state.Failed)
			eventually(t, "no run in flight", func() bool { return f.sched.InFlight() == 0 })
			require.Len(t, f.runs(t), tt.want)
		})
	}
}

func TestSchedulerTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute, "schedule: '0 * * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'\ntimeout: 5m")
	release := make(chan struct{})
	defer close(release)
	arrived := b.srv.StallNextRun(release, true)
	f.clock.waitFire(t, time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	f.clock.AdvanceTo(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	<-arrived
	f.clock.Advance(4 * time.Minute)
	require.Empty(t, f.runs(t)[0].FinishedAt.IsZero() == false)
	f.clock.Advance(time.Minute)
	runs := f.waitRuns(t, 1, state.Failed)
	require.Equal(t, jobs.ClassCancelled, runs[0].ErrorClass)
	require.Contains(t, runs[0].Error, "timed out after 5m0s")
	require.Len(t, runs, 1, "a timeout is not retried")
	require.Empty(t, b.localFiles(t))
}

func TestSchedulerDSTFiresOnceAtTheJumpAndOnceInTheRepeatedHour(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		keys  string
		start time.Time
		want  time.Time
		after time.Time // the fire after it
	}{
		{"Berlin spring", "schedule: '30 2 * * *'\ntimezone: Europe/Berlin", time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC)},
		{"Berlin fall", "schedule: '30 2 * * *'\ntimezone: Europe/Berlin", time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC)},
		{"New York spring", "schedule: '30 2 * * *'\ntimezone: America/New_York", time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 6, 30, 0, 0, time.UTC)},
		{"New York fall", "schedule: '30 1 * * *'\ntimezone: America/New_York", time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 5)
			f := startScheduler(t, b, tt.start, time.Minute, tt.keys+"\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"2006-01-02T15:04Z07:00\" }}.csv'")
			f.clock.waitFire(t, tt.want)
			require.True(t, f.clock.timerAt(tt.want), "next timer %s, want %s", f.clock.nextTimer().UTC(), tt.want)
			f.clock.AdvanceTo(tt.want)
			runs := f.waitRuns(t, 1, state.Succeeded)
			require.True(t, runs[0].ScheduledTime.Equal(tt.want))
			eventually(t, "the next fire", func() bool { return f.clock.timerAt(tt.after) })
			// Walk the clock through the rest of the transition day: nothing else fires.
			f.clock.AdvanceTo(tt.after.Add(-time.Second))
			eventually(t, "no run in flight", func() bool { return f.sched.InFlight() == 0 })
			require.Len(t, f.runs(t), 1)
		})
	}
}

func TestSchedulerReload(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startScheduler(t, b, start, time.Minute, "schedule: '0 7 * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/a-{{ date \"1504\" }}.csv'")
	f.clock.waitFire(t, time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	release := make(chan struct{})
	arrived := b.srv.StallNextRun(release, false)
	f.clock.AdvanceTo(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)) // joba runs and stalls
	<-arrived

	changed := b.job(t, "joba", "schedule: '30 7 * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/a-{{ date \"1504\" }}.csv'")
	added := b.job(t, "jobb", "schedule: '15 7 * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/b-{{ date \"1504\" }}.csv'")
	f.sched.Reload([]*config.Job{changed, added})
	eventually(t, "both jobs on their new schedules", func() bool {
		return f.clock.timerAt(time.Date(2026, 11, 27, 7, 15, 0, 0, time.UTC)) &&
			f.clock.timerAt(time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)) &&
			!f.clock.timerAt(time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC))
	})
	close(release) // the run in flight was not disturbed
	runs := f.waitRuns(t, 1, state.Succeeded)
	require.Equal(t, "joba", runs[0].Job)

	f.clock.AdvanceTo(time.Date(2026, 11, 27, 7, 15, 0, 0, time.UTC))
	f.waitRuns(t, 2, state.Succeeded)
	f.sched.Reload([]*config.Job{added}) // joba removed
	eventually(t, "joba stops firing", func() bool {
		return !f.clock.timerAt(time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	})
	f.clock.AdvanceTo(time.Date(2026, 11, 27, 7, 45, 0, 0, time.UTC))
	eventually(t, "no run in flight", func() bool { return f.sched.InFlight() == 0 })
	require.Len(t, f.runs(t), 2)
	require.FileExists(t, b.dir+"/a-0700.csv")
	require.FileExists(t, b.dir+"/b-0715.csv")
}

// TestSchedulerMaxConcurrentRuns fires two jobs at once with room for one
// run: the second is claimed, and starts, only when the first has
// finished, so that another replica with room would have claimed it.
func TestSchedulerMaxConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	start := time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)
	f := startConfigured(t, b, start, func(s *jobs.Scheduler) { s.MaxConcurrentRuns = 1 },
		everyMinute, "schedule: '* * * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/b{{ date \"1504\" }}.csv'\n")
	release := make(chan struct{})
	arrived := b.srv.StallNextRun(release, false)
	at := time.Date(2026, 11, 27, 6, 1, 0, 0, time.UTC)
	f.clock.waitFire(t, at)
	eventually(t, "both jobs to wait for 06:01", func() bool { return f.clock.timersAt(at) == 2 })
	f.clock.AdvanceTo(at)
	<-arrived
	require.Len(t, b.runner.InFlight(), 1, "one run executes, the other waits for the slot")
	require.Len(t, f.runs(t), 1, "the fire waiting for the slot is not claimed")
	close(release)
	runs := f.waitRuns(t, 2, state.Succeeded)
	sort.Slice(runs, func(i, j int) bool { return runs[i].FinishedAt.Before(runs[j].FinishedAt) })
	var lines []state.LogLine
	eventually(t, "the second run's log to be saved", func() bool {
		var err error
		lines, err = b.store.RunLog(context.Background(), runs[1].ID)
		require.NoError(t, err)
		return len(lines) > 0
	})
	require.False(t, lines[0].Time.Before(runs[0].FinishedAt), "the second run started only after the first finished")
}
