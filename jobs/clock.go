package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Clock is the one view of time in jobs: fire times, claims and leases,
// retries and backoff, the times a run records, its log lines and its
// manifest all read it, so tests drive it by hand and never sleep. The
// Runner's Clock is the default of every Scheduler, Trigger, Backfill and
// Pruner built on it; cmd/exporter passes the same value to the layers
// below that take their own (lookerapi, sinks/publish).
type Clock interface {
	Now() time.Time
	// After returns a channel that receives after d, and a stop function.
	After(d time.Duration) (<-chan time.Time, func())
	// AfterFunc calls f in a goroutine of its own after d, unless stop is
	// called first; stop reports whether it kept f from being called. No
	// goroutine waits meanwhile: a run's watchers (its timeout, its lease
	// and query slot renewals) cost nothing until they fire, and most
	// runs end before they do.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}
func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// AfterFuncVia is Clock.AfterFunc for a clock whose timers are channels
// (its After): a goroutine waits for the timer and calls f. Manual clocks
// in tests use it, so that their timers stay the ones a test advances.
func AfterFuncVia(after func(time.Duration) (<-chan time.Time, func()), d time.Duration, f func()) (stop func() bool) {
	tick, stopTimer := after(d)
	var state atomic.Int32 // 0 waiting, 1 fired, 2 stopped
	done := make(chan struct{})
	go func() {
		select {
		case <-tick:
			if state.CompareAndSwap(0, 1) {
				f()
			}
		case <-done:
		}
	}()
	return func() bool {
		if !state.CompareAndSwap(0, 2) {
			return false
		}
		close(done)
		stopTimer()
		return true
	}
}

// every calls f every period on clock until the returned stop is called
// or f returns false, with a context that stop cancels (derived from
// parent's values, not its cancellation). Calls never overlap; stop
// cancels a call in progress and waits for it to return. Between calls
// nothing but a timer exists (Clock.AfterFunc).
func every(parent context.Context, clock Clock, period time.Duration, f func(ctx context.Context) bool) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	var (
		mu      sync.Mutex // held while f runs, and by stop
		stopped bool
		timer   func() bool
		tick    func()
	)
	tick = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || !f(ctx) {
			return
		}
		timer = clock.AfterFunc(period, tick)
	}
	mu.Lock()
	timer = clock.AfterFunc(period, tick)
	mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			mu.Lock()
			stopped = true
			timer()
			mu.Unlock()
		})
	}
}

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// orReal is c, or RealClock when c is nil.
func orReal(c Clock) Clock {
	if c == nil {
		return RealClock
	}
	return c
}

// zapClock stamps log entries with a Clock (zap.WithClock), so the lines a
// run keeps (jobs/runlog) carry the run's time.
type zapClock struct{ Clock }

// NewTicker is the wall clock's: zap ticks only to flush buffered writers.
func (zapClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// logClock makes log entries read c.
func logClock(c Clock) zap.Option { return zap.WithClock(zapClock{c}) }
