package jobs

import (
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
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
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
