package main

import (
	"sync"
	"time"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi"
)

// lookerClock hands the app's one clock to the Looker client, which takes
// its own Clock (Now, AfterFunc): AfterFunc waits on the clock's After
// (on the wall clock, a plain time.AfterFunc: the client arms one per body
// read).
type lookerClock struct{ jobs.Clock }

func (c lookerClock) AfterFunc(d time.Duration, f func()) lookerapi.Timer {
	if c.Clock == jobs.RealClock {
		return time.AfterFunc(d, f)
	}
	ch, stop := c.After(d)
	t := &afterFunc{stop: stop, stopped: make(chan struct{})}
	go func() {
		select {
		case <-ch:
			if t.settle() {
				f()
			}
		case <-t.stopped:
		}
	}()
	return t
}

// afterFunc is a pending lookerClock.AfterFunc call.
type afterFunc struct {
	once    sync.Once
	stop    func()
	stopped chan struct{}
}

// settle reports whether the caller is first to settle the call (fire or
// stop it).
func (t *afterFunc) settle() (first bool) {
	t.once.Do(func() { first = true })
	return first
}

// Stop implements lookerapi.Timer.
func (t *afterFunc) Stop() bool {
	if !t.settle() {
		return false
	}
	t.stop()
	close(t.stopped)
	return true
}
