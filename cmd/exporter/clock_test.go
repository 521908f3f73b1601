package main

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
)

// handClock is a jobs.Clock whose timers fire when the test says.
type handClock struct {
	now     time.Time
	fire    chan time.Time
	stopped atomic.Int32
}

func (c *handClock) Now() time.Time { return c.now }
func (c *handClock) After(time.Duration) (<-chan time.Time, func()) {
	return c.fire, func() { c.stopped.Add(1) }
}

func (c *handClock) AfterFunc(d time.Duration, f func()) func() bool {
	return jobs.AfterFuncVia(c.After, d, f)
}

func TestLookerClock(t *testing.T) {
	t.Parallel()
	t.Run("fires on the app clock", func(t *testing.T) {
		t.Parallel()
		c := &handClock{now: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), fire: make(chan time.Time)}
		lc := lookerClock{c}
		require.Equal(t, c.now, lc.Now())
		called := make(chan struct{})
		tm := lc.AfterFunc(time.Hour, func() { close(called) })
		c.fire <- c.now
		<-called
		require.False(t, tm.Stop(), "already ran")
		require.Zero(t, c.stopped.Load())
	})
	t.Run("stopped never runs", func(t *testing.T) {
		t.Parallel()
		c := &handClock{fire: make(chan time.Time, 1)}
		var ran atomic.Bool
		tm := lookerClock{c}.AfterFunc(time.Hour, func() { ran.Store(true) })
		require.True(t, tm.Stop())
		require.False(t, tm.Stop(), "stopping twice")
		require.EqualValues(t, 1, c.stopped.Load(), "the clock's timer is stopped")
		c.fire <- time.Time{} // fires late: nothing listens any more
		require.False(t, ran.Load())
	})
}
