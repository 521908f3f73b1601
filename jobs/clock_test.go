package jobs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// fakeClock is a manual clock: timers fire only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ft := &fakeTimer{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		ft.ch <- c.now
		return ft.ch, func() {}
	}
	c.timers = append(c.timers, ft)
	return ft.ch, func() { c.remove(ft) }
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	return jobs.AfterFuncVia(c.After, d, f)
}

func (c *fakeClock) remove(ft *fakeTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.timers {
		if t == ft {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// AdvanceTo moves the clock to t and fires every timer due by then.
func (c *fakeClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.timers[:0]
	for _, ft := range c.timers {
		if !ft.at.After(t) {
			ft.ch <- t
			continue
		}
		kept = append(kept, ft)
	}
	c.timers = kept
}

func (c *fakeClock) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// waitTimers waits until n timers are pending: the code under test is then
// blocked on the clock and the test may advance it.
func (c *fakeClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	eventually(t, "pending timers", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.timers) >= n
	})
}

// nextTimer returns the time the earliest pending timer fires.
func (c *fakeClock) nextTimer() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, ft := range c.timers {
		if first.IsZero() || ft.at.Before(first) {
			first = ft.at
		}
	}
	return first
}

// TestOneClock: a run reads one clock for everything it stamps: the
// claim, the finish, its log lines and the manifest. The clock given to
// the Runner is the default of every Trigger and Scheduler on it.
func TestOneClock(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	ctx := context.Background()
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}/data.csv")
	t0 := time.Date(2031, 7, 1, 6, 0, 0, 0, time.UTC) // far from the wall clock
	b.runner.Clock = newFakeClock(t0)

	for name, door := range map[string]func(*config.Job, time.Time) (state.Run, error){
		"trigger": func(j *config.Job, at time.Time) (state.Run, error) {
			return (&jobs.Trigger{Runner: b.runner}).Run(ctx, j, at, jobs.TriggerOptions{})
		},
		"backfill": func(j *config.Job, at time.Time) (state.Run, error) {
			var last state.Run
			_, err := jobs.Backfill(ctx, b.runner, j, b.log, jobs.BackfillOptions{From: at, To: at.Add(time.Minute), Progress: func(ev jobs.BackfillEvent) { last = ev.Run }})
			return last, err
		},
	} {
		at := t0.Add(-time.Hour)
		if name == "backfill" {
			at = at.Add(-time.Hour)
		}
		run, err := door(job, at)
		require.NoError(t, err, name)
		require.Equal(t, state.Succeeded, run.Status, name)
		require.True(t, run.StartedAt.Equal(t0), "%s: started %s", name, run.StartedAt)
		require.True(t, run.FinishedAt.Equal(t0), "%s: finished %s", name, run.FinishedAt)
		lines, err := b.store.RunLog(ctx, run.ID)
		require.NoError(t, err)
		require.NotEmpty(t, lines)
		for _, l := range lines {
			require.True(t, l.Time.Equal(t0), "%s: log line %q at %s", name, l.Message, l.Time)
		}
		raw, err := os.ReadFile(filepath.Join(b.dir, run.ID, publish.ManifestName))
		require.NoError(t, err)
		var m publish.Manifest
		require.NoError(t, json.Unmarshal(raw, &m))
		require.True(t, m.FinishedAt.Equal(t0), "%s: manifest finished_at %s", name, m.FinishedAt)
	}
}

// Jump moves the wall clock by d (forward or back) as a clock step
// (NTP, a VM restored) does: pending timers keep the time they have left,
// as timers on the monotonic clock do, so none fires.
func (c *fakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, ft := range c.timers {
		ft.at = ft.at.Add(d)
	}
}

// TestEvery: every calls f once a period on the clock, never two calls at
// once; stop cancels a call in progress, waits for it, and no call
// follows; f returning false ends the calls. Between calls only a timer
// is pending.
func TestEvery(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	calls := make(chan context.Context)
	release := make(chan struct{})
	stop := jobs.Every(context.Background(), clock, time.Minute, func(ctx context.Context) bool {
		calls <- ctx
		select {
		case <-release:
		case <-ctx.Done():
		}
		return true
	})
	for range 3 {
		clock.waitTimers(t, 1)
		clock.Advance(time.Minute)
		<-calls
		release <- struct{}{}
	}
	clock.waitTimers(t, 1)
	clock.Advance(time.Minute)
	ctx := <-calls // a call in progress
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	<-ctx.Done() // stop cancels it
	<-stopped    // and waits for it to return
	clock.mu.Lock()
	pending := len(clock.timers)
	clock.mu.Unlock()
	require.Zero(t, pending, "no call is scheduled after stop")
	stop() // twice is safe

	var n atomic.Int32
	called := make(chan struct{}, 10)
	stop = jobs.Every(context.Background(), clock, time.Minute, func(context.Context) bool {
		n.Add(1)
		called <- struct{}{}
		return false
	})
	clock.waitTimers(t, 1)
	clock.Advance(time.Minute)
	<-called
	// The call returned false: nothing is scheduled once it has returned.
	eventually(t, "no timer pending", func() bool {
		clock.mu.Lock()
		defer clock.mu.Unlock()
		return len(clock.timers) == 0
	})
	clock.Advance(time.Hour)
	stop()
	require.EqualValues(t, 1, n.Load(), "f returning false ends the calls")
}
