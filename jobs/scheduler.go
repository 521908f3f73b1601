package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
)

// Clock is the scheduler's view of time, injected so tests never sleep.
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

// Scheduler fires each job on its cron schedule, in the job's time zone.
//
// When the previous run of a job is still going at its next fire time, the
// new fire is skipped and logged. Stopping is two-phase: when the context
// given to Run is done, no new run starts; runs in flight get DrainTimeout
// to finish, then they are cancelled with ErrShutdown and recorded as
// interrupted.
type Scheduler struct {
	Runner       *Runner
	Jobs         []*config.Job
	Clock        Clock // nil means RealClock
	Log          *zap.Logger
	DrainTimeout time.Duration // 0 means 5 minutes

	inFlight atomic.Int64
}

// InFlight returns how many runs the scheduler has going right now. A run
// counts until the scheduler is ready to fire its job again.
func (s *Scheduler) InFlight() int { return int(s.inFlight.Load()) }

// Run fires jobs until ctx is done, then drains and returns.
func (s *Scheduler) Run(ctx context.Context) error {
	clock := s.Clock
	if clock == nil {
		clock = RealClock
	}
	drain := s.DrainTimeout
	if drain == 0 {
		drain = 5 * time.Minute
	}
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)

	var runs sync.WaitGroup
	var loops sync.WaitGroup
	for _, job := range s.Jobs {
		loops.Add(1)
		go func() {
			defer loops.Done()
			s.loop(ctx, runCtx, clock, job, &runs)
		}()
	}
	loops.Wait() // ctx is done: nothing fires any more
	s.Log.Info("scheduler stopping; draining runs in flight", zap.Duration("drain_timeout", drain))

	done := make(chan struct{})
	go func() { runs.Wait(); close(done) }()
	timeout, stop := clock.After(drain)
	defer stop()
	select {
	case <-done:
	case <-timeout:
		s.Log.Warn("drain timeout passed; interrupting runs in flight")
		cancelRuns(ErrShutdown)
		<-done
	}
	s.Log.Info("scheduler stopped")
	return nil
}

func (s *Scheduler) loop(ctx, runCtx context.Context, clock Clock, job *config.Job, runs *sync.WaitGroup) {
	log := s.Log.With(zap.String("job", job.Name))
	var running sync.Mutex // held while a run of this job is in flight
	var last time.Time     // the last fire time, so a clock that reads early never fires it twice
	for {
		now := clock.Now()
		from := now
		if from.Before(last) {
			from = last
		}
		next := job.Schedule.Next(from)
		if next.IsZero() {
			log.Warn("schedule never fires again", zap.String("schedule", job.ScheduleSpec))
			<-ctx.Done()
			return
		}
		log.Debug("next run", zap.Time("at", next))
		last = next
		fire, stop := clock.After(next.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			return
		case <-fire:
		}
		if !running.TryLock() {
			log.Warn("previous run still in flight; skipping this fire", zap.Time("scheduled_time", next))
			continue
		}
		runs.Add(1)
		s.inFlight.Add(1)
		go func() {
			defer runs.Done()
			defer s.inFlight.Add(-1)
			defer running.Unlock()
			// The runner logs and records the outcome.
			_, _ = s.Runner.Run(runCtx, job, next, RunOptions{})
		}()
	}
}
