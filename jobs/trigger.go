package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// ErrRunning is returned by Trigger.Run when an attempt of the key (job,
// scheduled time) is running under a live lease, in this process or another.
var ErrRunning = errors.New("the run is in flight")

// Trigger starts runs on demand (Run now, `exporter run`) through the same
// door as the scheduler's fires: it claims the key (job, scheduled time),
// holds and renews a lease on it every Lease/3, runs attempts under the
// job's retry policy, and records each (Runner.Execute, whose observers
// send the alerts). A holder that dies stops renewing; once its lease has
// expired, any Scheduler or Trigger sharing the store records its attempt
// interrupted (state.ClassLeaseExpired) and may run the key again.
//
// The zero value of each field but Runner is usable. A Trigger is safe for
// concurrent use.
type Trigger struct {
	Runner  *Runner
	Clock   Clock          // nil means Runner's
	Log     *zap.Logger    // nil means Runner.Log
	Replica string         // recorded with the runs; "" means "local"
	Lease   time.Duration  // 0 means config.DefaultLease
	Jitter  func() float64 // retry backoff jitter in [0, 1); nil means math/rand/v2
	// Slots, when set, is the Scheduler of this process: each attempt
	// takes one of its MaxConcurrentRuns slots, like a scheduled fire,
	// waiting for one with its lease held (and announced to
	// RunOptions.OnStart before it waits).
	Slots *Scheduler
}

// TriggerOptions adjust one triggered run.
type TriggerOptions struct {
	RunOptions
	// NoRetry makes one attempt, whatever the job's retries say.
	NoRetry bool
}

// Run runs job at scheduled now, in the caller's goroutine, and returns the
// last attempt as recorded; the error is its failure, if any. The key's
// first attempt is claimed; a key already finished gets a new attempt (a
// re-run, overwriting the same object names); a key whose attempt holds a
// live lease is not touched and ErrRunning comes back with that attempt.
// The job's retries count the attempts this call makes. When ctx is done no
// new attempt starts and the one going is cancelled with ctx's cause
// (ErrShutdown records it interrupted).
func (t *Trigger) Run(ctx context.Context, job *config.Job, scheduled time.Time, opts TriggerOptions) (state.Run, error) {
	s := t.door(ctx)
	run, claimed, err := s.claimKey(ctx, job, scheduled.In(job.Location), func(state.Run) bool { return true })
	if err != nil {
		return run, fmt.Errorf("job %s: claim run: %w", job.Name, err)
	}
	if !claimed {
		return run, fmt.Errorf("job %s scheduled at %s: %w (run %s, replica %s)", job.Name, scheduled.Format(time.RFC3339), ErrRunning, run.ID, run.Replica)
	}
	last := run.Attempt - 1 + job.Retries.MaxAttempts
	if opts.NoRetry || last < run.Attempt {
		last = run.Attempt
	}
	return s.runClaimed(job, run, last, opts.RunOptions, nil)
}

// door is a Scheduler that fires nothing by itself, used to run keys
// claimed outside its loops (Trigger, Backfill): stopping and cancelling
// both follow ctx.
func (t *Trigger) door(ctx context.Context) *Scheduler {
	log := t.Log
	if log == nil {
		log = t.Runner.Log
	}
	s := &Scheduler{Runner: t.Runner, Clock: t.Clock, Log: log, Replica: t.Replica, Lease: t.Lease, Jitter: t.Jitter}
	s.stopCtx, s.runCtx = ctx, ctx
	if t.Slots != nil {
		t.Slots.mu.Lock()
		s.slots = t.Slots.slotsLocked()
		t.Slots.mu.Unlock()
	}
	return s
}

// claimKey claims (job, at) for a run on demand: the key's first attempt,
// the takeover of an attempt whose lease expired, or, when the key's latest
// attempt has finished and again(latest) says so, its next attempt. When it
// does not claim, it returns the latest attempt it saw: one again said no
// to, or one running under a live lease (or finished, when another holder
// started the next attempt at the same time).
//
// Each store call is retried with backoff through a store outage of up to
// two leases (storeRetry), until ctx is done.
func (s *Scheduler) claimKey(ctx context.Context, job *config.Job, at time.Time, again func(state.Run) bool) (state.Run, bool, error) {
	store := s.Runner.Store
	log := s.Log.With(zap.String("job", job.Name), zap.Time("scheduled_time", at))
	var (
		run     state.Run
		claimed bool
	)
	err := storeRetry(ctx, s.clock(), storeOutage(s.lease()), s.Jitter, log, "Claim", func() (err error) {
		run, claimed, err = store.Claim(ctx, job.Name, at, s.replica(), s.clock().Now(), s.lease())
		return err
	})
	if err != nil || claimed || run.Status == state.Running || !again(run) {
		return run, claimed && err == nil, err
	}
	var next state.Run
	err = storeRetry(ctx, s.clock(), storeOutage(s.lease()), s.Jitter, log, "Retry", func() (err error) {
		next, err = store.Retry(ctx, run.ID, s.replica(), s.clock().Now(), s.lease())
		return err
	})
	switch {
	case errors.Is(err, state.ErrNotLatest), errors.Is(err, state.ErrStillRunning):
		return run, false, nil // another holder started an attempt meanwhile
	case err != nil:
		return run, false, err
	}
	return next, true, nil
}

// runClaimed is the part of the door after the claim, shared by every way
// into a run (fires, catch-up, takeovers, backfill, Trigger): it holds and
// renews the lease of run, a claimed attempt of job; calls admit, if not
// nil, which may wait (overlap: queue) and reports whether to go on (false
// once it has finished run itself, e.g. as skipped); then runs run and
// retries it while the job's retry policy allows and the key's attempts
// stay at most lastAttempt, recording each attempt. It returns the last
// attempt as recorded and its error.
func (s *Scheduler) runClaimed(job *config.Job, run state.Run, lastAttempt int, opts RunOptions, admit func() bool) (state.Run, error) {
	rl := s.holdLease(run)
	defer rl.stop()
	if admit != nil && !admit() {
		return run, nil
	}
	return s.attempts(job, run, rl, lastAttempt, opts)
}
