package jobs_test

import (
	"sync"
	"testing"
	"time"
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
