package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// BackfillOptions select what Backfill runs.
type BackfillOptions struct {
	From, To time.Time // fire times in [From, To) run
	Parallel int       // partitions running at once; 0 means 1
	// Rerun runs partitions that already succeeded too (as new attempts
	// under their key, overwriting their output).
	Rerun    bool
	Replica  string        // recorded with the runs; "" means "backfill"
	Lease    time.Duration // 0 means config.DefaultLease
	Clock    Clock         // nil means Runner's
	Jitter   func() float64
	Progress func(BackfillEvent) // optional; called from several goroutines, one event at a time
}

// BackfillEvent reports one partition.
type BackfillEvent struct {
	Scheduled time.Time
	Done      int // partitions settled so far, this one included
	Total     int
	// Outcome is "succeeded", "failed", "skipped: already succeeded",
	// "skipped: running elsewhere", or "skipped: " and the reason of a run
	// skipped by its send condition ("skipped: when: results: the result
	// has no rows"), which a later backfill checks again.
	Outcome string
	Run     state.Run // the last attempt; zero when skipped
	Err     error
}

// BackfillResult counts the partitions of a backfill.
type BackfillResult struct {
	Total     int `json:"total"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
}

// Backfill runs job once for each of its fire times in [opts.From,
// opts.To), each writing its own partition, like the scheduler would have
// (same claims, retries, timeout and templates). A partition that already
// succeeded is skipped unless opts.Rerun, so a backfill interrupted
// half-way and started again runs only what is left. A partition another
// replica is running is skipped. It returns an error when ctx ended or any
// partition failed.
func Backfill(ctx context.Context, r *Runner, job *config.Job, log *zap.Logger, opts BackfillOptions) (BackfillResult, error) {
	times, err := BackfillTimes(job, opts.From, opts.To)
	res := BackfillResult{Total: len(times)}
	if err != nil {
		return res, err
	}
	replica := opts.Replica
	if replica == "" {
		replica = "backfill"
	}
	s := (&Trigger{Runner: r, Clock: opts.Clock, Log: log, Replica: replica, Lease: opts.Lease, Jitter: opts.Jitter}).door(ctx)
	parallel := max(opts.Parallel, 1)

	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
	)
	report := func(ev BackfillEvent) {
		mu.Lock()
		defer mu.Unlock()
		done++
		ev.Done, ev.Total = done, len(times)
		switch {
		case ev.Err != nil:
			res.Failed++
		case ev.Outcome == "succeeded":
			res.Succeeded++
		default:
			res.Skipped++
		}
		if opts.Progress != nil {
			opts.Progress(ev)
		}
	}
	next := make(chan time.Time)
	for range parallel {
		wg.Go(func() {
			for at := range next {
				report(backfillOne(ctx, s, job, at, opts.Rerun))
			}
		})
	}
feed:
	for _, at := range times {
		select {
		case next <- at:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("backfill job %s interrupted after %d of %d partitions; run the same command again to finish (finished partitions are skipped): %w",
			job.Name, res.Succeeded+res.Skipped, res.Total, err)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("backfill job %s: %d of %d partitions failed; see the log, fix the cause and run the same command again", job.Name, res.Failed, res.Total)
	}
	return res, nil
}

func backfillOne(ctx context.Context, s *Scheduler, job *config.Job, at time.Time, rerun bool) BackfillEvent {
	ev := BackfillEvent{Scheduled: at}
	again := func(latest state.Run) bool { return rerun || latest.Status != state.Succeeded }
	run, claimed, err := s.claimKey(ctx, job, at, again)
	switch {
	case err != nil:
		ev.Err = err
		return ev
	case !claimed && !again(run):
		ev.Outcome = "skipped: already succeeded"
		ev.Run = run
		return ev
	case !claimed:
		ev.Outcome = "skipped: running elsewhere"
		return ev
	}
	ev.Run, ev.Err = s.runClaimed(job, run, job.Retries.MaxAttempts, RunOptions{}, nil)
	switch {
	case ev.Err == nil && ev.Run.Status == state.Skipped:
		ev.Outcome = "skipped: " + ev.Run.Error
	case ev.Err == nil:
		ev.Outcome = "succeeded"
	default:
		ev.Outcome = "failed"
	}
	return ev
}

// BackfillTimes are job's fire times in [from, to), the partitions a
// backfill runs; an error says why there are none.
func BackfillTimes(job *config.Job, from, to time.Time) ([]time.Time, error) {
	if job.Schedule == nil {
		return nil, fmt.Errorf("backfill job %s: it has no schedule, only a datagroup trigger (%s), so there are no fire times to backfill; run one triggered_at with `exporter run %s --at TIME`",
			job.Name, job.Trigger.Datagroup, job.Name)
	}
	var times []time.Time
	for at := job.Schedule.Next(from.Add(-time.Nanosecond)); !at.IsZero() && at.Before(to); at = job.Schedule.Next(at) {
		times = append(times, at)
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("backfill job %s: no fire time of schedule %q in [%s, %s); widen --from/--to",
			job.Name, job.ScheduleSpec, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return times, nil
}
