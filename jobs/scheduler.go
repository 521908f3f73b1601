package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// ErrLeaseLost is the cancellation cause of a run whose lease another
// replica took over: the run stops, since the other replica now runs it.
var ErrLeaseLost = errors.New("the run's lease was taken over by another replica")

// Scheduler fires each job on its cron schedule, in the job's time zone
// (see NextFire for daylight saving time), and runs each fire exactly once
// across every replica sharing the state store.
//
// # Exactly once
//
// A fire claims its key (job, scheduled time) in the store (state.Store
// Claim): of all replicas firing it, one wins and runs it; the others do
// nothing. The winner renews its lease every Lease/3; if it dies, the run's
// lease expires and the next replica to fire or catch up that key takes it
// over as a new attempt. A replica that finds its lease lost cancels its run
// with ErrLeaseLost.
//
// # Per job
//
//   - overlap: skip records a fire as skipped while a previous run of the
//     job is going in any replica; queue claims the fire and runs it once
//     the previous run in this replica ends; allow runs it alongside.
//   - catchup: when a job's loop first starts, fires missed since the
//     job's latest recorded run (and within catchup_window) run: none of
//     them, the latest, or all in order. They are claimed like any fire, so
//     replicas starting together run each once. The loop applies the same
//     policy when it wakes to find that several fire times passed (the
//     process was frozen, or the wall clock jumped forward: it reads the
//     wall clock at least every wallClockWatch, a minute); one late fire
//     just runs. A wall clock stepping back fires nothing twice.
//   - retries: a run that fails with a retryable error (ClassRetryable) is
//     retried as a new attempt under the same key after an exponential
//     backoff with jitter, until max_attempts attempts of the key exist. A
//     retry waiting for its backoff holds no lease: if the replica stops
//     then, the retry does not happen.
//   - timeout: each attempt is cancelled after the job's timeout, measured
//     on Clock, and recorded as failed (class cancelled, not retried).
//
// MaxConcurrentRuns bounds the attempts running at once in this replica.
// A fire waits for a slot before it claims its key, so that replicas
// sharing the store claim what they have room for (a fire with overlap
// queue claims first and takes its slot after its turn, holding its
// lease meanwhile, as do runs on demand and takeovers).
//
// # Stopping and reloading
//
// Stopping is two-phase: when the context given to Run is done, no new
// run starts and no retry is scheduled; runs in flight get DrainTimeout to
// finish, then they are cancelled with ErrShutdown and recorded as
// interrupted. Reload replaces the job list while Run is going, without
// touching runs in flight.
type Scheduler struct {
	Runner            *Runner
	Jobs              []*config.Job // read by Run; use Reload afterwards
	Clock             Clock         // nil means Runner's
	Log               *zap.Logger
	DrainTimeout      time.Duration  // 0 means 5 minutes
	Replica           string         // this replica's id; "" means "local"
	Lease             time.Duration  // 0 means config.DefaultLease
	MaxConcurrentRuns int            // 0 means no limit
	Jitter            func() float64 // in [0, 1); nil means math/rand/v2
	// Datagroups, when set, is read every DatagroupPoll (0 means
	// config.DefaultDatagroupPoll) to fire the jobs with a datagroup
	// trigger: datagroups.go.
	Datagroups    Datagroups
	DatagroupPoll time.Duration

	watch    datagroupWatch
	inFlight atomic.Int64
	held     sync.Map // run id -> struct{}: attempts this replica holds a lease on

	mu      sync.Mutex
	running bool
	// Stored contexts, on purpose: they are Run's two lifetimes, which
	// goroutines started after Run began (Reload's loops, retries,
	// takeovers) must derive theirs from; channels would only be turned
	// back into contexts at every store and Looker call.
	stopCtx context.Context // done when Run's ctx is done
	runCtx  context.Context // cancelled after the drain timeout
	runs    sync.WaitGroup
	loopsWG sync.WaitGroup
	loops   map[string]*jobLoop
	states  map[string]*jobState
	slots   *runSlots // MaxConcurrentRuns; nil for no limit
}

// jobLoop is one job's firing goroutine.
type jobLoop struct {
	job    *config.Job
	cancel context.CancelFunc
	done   chan struct{}
}

// jobState outlives reloads: it is per job name.
type jobState struct {
	mu       sync.Mutex
	active   int           // runs of the job in flight in this replica
	tail     chan struct{} // closed when the last queued run ends; nil when none
	last     time.Time     // the last fire time, so a clock that reads early never fires it twice
	caughtUp bool
}

// InFlight returns how many runs the scheduler has going right now,
// retries waiting for their backoff included.
func (s *Scheduler) InFlight() int { return int(s.inFlight.Load()) }

func (s *Scheduler) clock() Clock {
	if s.Clock == nil {
		return s.Runner.clock()
	}
	return s.Clock
}

func (s *Scheduler) replica() string {
	if s.Replica == "" {
		return "local"
	}
	return s.Replica
}

func (s *Scheduler) lease() time.Duration {
	if s.Lease <= 0 {
		return config.DefaultLease
	}
	return s.Lease
}

// Run fires jobs until ctx is done, then drains and returns. Call it once.
func (s *Scheduler) Run(ctx context.Context) error {
	drain := s.DrainTimeout
	if drain == 0 {
		drain = 5 * time.Minute
	}
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)

	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("scheduler: Run called twice")
	}
	s.running = true
	s.stopCtx, s.runCtx = ctx, runCtx
	s.loops = map[string]*jobLoop{}
	s.states = map[string]*jobState{}
	s.slotsLocked()
	for _, job := range s.Jobs {
		s.startLoop(job)
	}
	s.startDatagroups(ctx)
	s.mu.Unlock()
	s.loopsWG.Add(1)
	go func() {
		defer s.loopsWG.Done()
		s.reap(ctx)
	}()

	<-ctx.Done()
	s.mu.Lock()
	for _, l := range s.loops {
		l.cancel()
	}
	s.mu.Unlock()
	s.loopsWG.Wait() // nothing fires any more
	if s.slots != nil {
		s.slots.close() // fires still waiting for a slot are left to the other replicas
	}
	s.Log.Info("scheduler stopping; draining runs in flight", zap.Duration("drain_timeout", drain))

	done := make(chan struct{})
	go func() { s.runs.Wait(); close(done) }()
	timeout, stop := s.clock().After(drain)
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

// CurrentJobs returns the jobs the scheduler fires now: its Jobs, as
// replaced by the latest Reload. The status page shows these.
func (s *Scheduler) CurrentJobs() []*config.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Jobs)
}

// Reload replaces the scheduled jobs: removed jobs stop firing, added jobs
// start (catching up as configured), changed jobs fire on their new
// settings from their next fire time. Runs in flight are not touched and
// finish under the settings they started with. Before Run, Reload sets Jobs.
func (s *Scheduler) Reload(jobs []*config.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Jobs = jobs
	if !s.running || s.stopCtx.Err() != nil {
		return
	}
	keep := map[string]bool{}
	var added, changed, removed []string
	for _, job := range jobs {
		keep[job.Name] = true
		if old, ok := s.loops[job.Name]; ok {
			if old.job == job {
				continue
			}
			changed = append(changed, job.Name)
			old.cancel()
			<-old.done
		} else {
			added = append(added, job.Name)
		}
		s.startLoop(job)
	}
	for name, l := range s.loops {
		if !keep[name] {
			removed = append(removed, name)
			l.cancel()
			<-l.done
			delete(s.loops, name)
		}
	}
	s.Log.Debug("scheduler reloaded", zap.Strings("added", added), zap.Strings("changed", changed), zap.Strings("removed", removed))
}

// startLoop starts job's loop; s.mu is held.
func (s *Scheduler) startLoop(job *config.Job) {
	st := s.states[job.Name]
	if st == nil {
		st = &jobState{}
		s.states[job.Name] = st
	}
	ctx, cancel := context.WithCancel(s.stopCtx)
	l := &jobLoop{job: job, cancel: cancel, done: make(chan struct{})}
	s.loops[job.Name] = l
	s.loopsWG.Add(1)
	go func() {
		defer s.loopsWG.Done()
		defer close(l.done)
		s.loop(ctx, job, st)
	}()
}

func (s *Scheduler) loop(ctx context.Context, job *config.Job, st *jobState) {
	if job.Schedule == nil {
		<-ctx.Done() // fired by its trigger only (datagroups.go); the loop keeps its place for reap and Reload
		return
	}
	lz := newLazyLog(s.Log, zap.String("job", job.Name))
	clock := s.clock()
	st.mu.Lock()
	catchUp := !st.caughtUp
	st.caughtUp = true
	st.mu.Unlock()
	// Fire times are wall-clock times: readings drop the monotonic clock
	// (Round(0)), which would hide a jump from comparisons between them.
	started := clock.Now().Round(0)
	if catchUp {
		s.catchUp(ctx, lz, job, st) // may wait out a store outage: fires due meanwhile count as missed below
	}
	st.mu.Lock()
	handled := later(started, st.last) // every fire up to here is handled
	st.mu.Unlock()
	for {
		next := job.Schedule.Next(handled)
		if next.IsZero() {
			lz.get().Warn("schedule never fires again", zap.String("schedule", job.ScheduleSpec))
			<-ctx.Done()
			return
		}
		now := clock.Now().Round(0)
		if next.After(now) {
			if ce := s.Log.Check(zap.DebugLevel, "next run"); ce != nil {
				ce.Write(zap.String("job", job.Name), zap.Time("at", next))
			}
			// Wake at the fire time, and every wallClockWatch until then:
			// timers run on the monotonic clock, so only reading the wall
			// clock shows that it jumped forward over fire times.
			fire, stopFire := clock.After(next.Sub(now))
			var watch <-chan time.Time
			stopWatch := func() {}
			if next.Sub(now) > wallClockWatch {
				watch, stopWatch = clock.After(wallClockWatch)
			}
			select {
			case <-ctx.Done():
			case <-fire:
			case <-watch:
			}
			stopFire()
			stopWatch()
			if ctx.Err() != nil {
				return
			}
			now = clock.Now().Round(0)
			if now.Before(next) {
				continue // not yet; or the clock went back, and handled stays: nothing fires twice
			}
		}
		st.mu.Lock()
		st.last = later(st.last, now)
		st.mu.Unlock()
		if after := job.Schedule.Next(next); after.IsZero() || after.After(now) {
			// The one fire due: on time, or late by less than a period.
			handled = next
			s.fire(job, next, job.Overlap, st)
			continue
		}
		// Several fires came due at once: the process was frozen (the
		// timer was delivered late) or the wall clock jumped forward.
		missed := catchupFires(job, handled, now)
		lz.get().Warn("fires were missed while the process was paused or the wall clock jumped; handling them as catchup says",
			zap.Time("since", handled), zap.Time("now", now), zap.String("catchup", string(job.Catchup)), zap.Int("running", len(missed)))
		handled = now
		for _, at := range missed {
			s.fire(job, at, config.OverlapQueue, st) // in order, one after the other
		}
	}
}

// reap takes over, every lease, the runs of the scheduled jobs whose lease
// expired (state.Run.LeaseEnd): their replica or process died. It reads
// only the jobs' Running attempts, so a dead run is found however many
// fires were recorded after it. Claim decides atomically, so of several
// replicas reaping the same run one takes it over.
func (s *Scheduler) reap(ctx context.Context) {
	clock := s.clock()
	for {
		tick, stop := clock.After(s.lease())
		select {
		case <-ctx.Done():
			stop()
			return
		case <-tick:
		}
		s.mu.Lock()
		type target struct {
			job *config.Job
			st  *jobState
		}
		var targets []target
		for _, l := range s.loops {
			targets = append(targets, target{l.job, s.states[l.job.Name]})
		}
		s.mu.Unlock()
		now := clock.Now()
		for _, tg := range targets {
			var runs []state.Run
			err := storeRetry(ctx, clock, s.lease(), s.Jitter, s.Log.With(zap.String("job", tg.job.Name)), "Running", func() (err error) {
				runs, err = s.Runner.Store.Running(ctx, tg.job.Name)
				return err
			})
			if err != nil {
				s.Log.Warn("look for expired leases failed; looking again in one lease", zap.String("job", tg.job.Name), zap.Error(err))
				continue
			}
			for _, r := range runs {
				if _, mine := s.held.Load(r.ID); mine {
					continue // alive here: its renewal is just late
				}
				if r.Status == state.Running && !r.LeaseEnd(s.lease()).After(now) {
					s.Log.Warn("run lease expired; taking the run over", zap.String("job", r.Job), zap.String("run_id", r.ID),
						zap.String("replica", r.Replica), zap.Time("scheduled_time", r.ScheduledTime))
					s.fire(tg.job, r.ScheduledTime.In(tg.job.Location), config.OverlapAllow, tg.st)
				}
			}
		}
	}
}

// catchUp runs the fires of job missed since its latest recorded run, as
// its catchup policy says.
func (s *Scheduler) catchUp(ctx context.Context, lz *lazyLog, job *config.Job, st *jobState) {
	if job.Catchup == config.CatchupNone || job.Catchup == "" {
		return
	}
	log := lz.get()
	var latest state.Run
	err := storeRetry(ctx, s.clock(), storeOutage(s.lease()), s.Jitter, log, "LatestScheduled", func() (err error) {
		latest, err = s.Runner.Store.LatestScheduled(ctx, job.Name)
		return err
	})
	now := s.clock().Now()
	switch {
	case errors.Is(err, state.ErrNotFound):
		return // a new job: nothing was missed
	case err != nil:
		log.Error("catch-up: read the job's latest run failed; not catching up", zap.Error(err))
		return
	}
	missed := catchupFires(job, latest.ScheduledTime, now)
	if len(missed) == 0 {
		return
	}
	log.Info("catching up missed fires", zap.String("catchup", string(job.Catchup)), zap.Int("fires", len(missed)),
		zap.Time("first", missed[0]), zap.Time("last", missed[len(missed)-1]))
	st.mu.Lock()
	st.last = now
	st.mu.Unlock()
	for _, at := range missed {
		s.fire(job, at, config.OverlapQueue, st) // in order, one after the other
	}
}

// wallClockWatch is the longest a job's loop sleeps between reading the
// wall clock, and so the longest before it notices that the clock jumped
// forward over fire times.
const wallClockWatch = time.Minute

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// catchupFires lists the fires of job after from and up to now that its
// catchup policy runs: none of them, the latest, or all in order; only
// fires within catchup_window before now count.
func catchupFires(job *config.Job, from, now time.Time) []time.Time {
	if job.Catchup == config.CatchupNone || job.Catchup == "" {
		return nil
	}
	if start := now.Add(-job.CatchupWindow); from.Before(start) {
		from = start.Add(-time.Nanosecond) // fires at the window's start count
	}
	var missed []time.Time
	for at := job.Schedule.Next(from); !at.IsZero() && !at.After(now); at = job.Schedule.Next(at) {
		missed = append(missed, at)
		if len(missed) > 10000 {
			missed = missed[1:]
		}
	}
	if job.Catchup == config.CatchupLatest && len(missed) > 0 {
		missed = missed[len(missed)-1:]
	}
	return missed
}

// fire claims (job, scheduled) and, if this replica won it, runs it in the
// background under the overlap policy.
func (s *Scheduler) fire(job *config.Job, scheduled time.Time, overlap config.Overlap, st *jobState) {
	lz := newLazyLog(s.Log, zap.String("job", job.Name), zap.Time("scheduled_time", scheduled))
	s.runs.Add(1)
	s.inFlight.Add(1)
	var prev, mine chan struct{}
	if overlap == config.OverlapQueue {
		// Take the queue's place now, so that queued fires run in order.
		mine = make(chan struct{})
		st.mu.Lock()
		prev, st.tail = st.tail, mine
		st.mu.Unlock()
	}
	// release, when not nil, gives back the run slot the fire took before
	// its claim; the first attempt takes it over.
	body := func(release func()) {
		defer s.runs.Done()
		defer s.inFlight.Add(-1)
		if mine != nil {
			defer close(mine)
		}
		var opts RunOptions
		if release != nil {
			defer release() // unless the first attempt took it over
			if s.stopCtx.Err() != nil {
				lz.debug("shut down before a run slot was free; the fire is left to the other replicas")
				return
			}
			opts.slot = release
		}
		run, claimed, err := s.claimKey(s.runCtx, job, scheduled, func(state.Run) bool { return false })
		if err != nil {
			lz.get().Error("claim run failed; the fire is lost unless another replica claims it", zap.Error(err))
			return
		}
		if !claimed {
			lz.debug("run claimed elsewhere", zap.String("run_id", run.ID), zap.String("replica", run.Replica), zap.String("status", string(run.Status)))
			return
		}
		st.mu.Lock()
		busy := st.active > 0
		st.active++
		st.mu.Unlock()
		defer func() {
			st.mu.Lock()
			st.active--
			st.mu.Unlock()
		}()
		admit := func() bool {
			switch overlap {
			case config.OverlapSkip:
				if busy || s.runningElsewhere(lz.get(), job, run) {
					s.skip(lz.get(), run)
					return false
				}
			case config.OverlapQueue:
				if prev != nil {
					<-prev // the lease is renewed meanwhile; a shutdown interrupts the run below
				}
			}
			return true
		}
		_, _ = s.runClaimed(job, run, job.Retries.MaxAttempts, opts, admit) // the runner logs and records the outcome
	}
	if s.slots != nil && overlap != config.OverlapQueue {
		// Claim only with a run slot in hand, so that of the replicas
		// sharing the store the ones with room claim: a burst of fires is
		// split by how fast each replica runs, not by which claimed first.
		// A queued fire takes its slot after its turn (admit), or it would
		// hold one that the run before it needs.
		s.slots.queue(slotWaiter{start: body, drop: func() {
			lz.debug("shut down before a run slot was free; the fire is left to the other replicas")
			s.runs.Done()
			s.inFlight.Add(-1)
		}})
		return
	}
	go body(nil)
}

// runningElsewhere reports whether another run of job, of an earlier
// fire, holds a live lease (in another replica: this one's are counted in
// jobState), however many fires were recorded since. A Running attempt
// without a lease (written by versions before claims; nothing renews it)
// counts as live for one lease after it started (state.Run.LeaseEnd), so
// that no such record blocks the job for longer.
func (s *Scheduler) runningElsewhere(log *zap.Logger, job *config.Job, run state.Run) bool {
	var runs []state.Run
	err := storeRetry(s.runCtx, s.clock(), storeOutage(s.lease()), s.Jitter, log, "Running", func() (err error) {
		runs, err = s.Runner.Store.Running(s.runCtx, job.Name)
		return err
	})
	if err != nil {
		log.Error("look for a run of the job in flight elsewhere failed; running this fire", zap.Error(err))
		return false
	}
	now := s.clock().Now()
	for _, r := range runs {
		if r.ID != run.ID && r.Status == state.Running && r.ScheduledTime.Before(run.ScheduledTime) &&
			r.LeaseEnd(s.lease()).After(now) {
			return true
		}
	}
	return false
}

func (s *Scheduler) skip(log *zap.Logger, run state.Run) {
	log.Warn("previous run still in flight; skipping this fire", zap.String("run_id", run.ID))
	ctx := context.WithoutCancel(s.runCtx)
	err := storeRetry(ctx, s.clock(), storeOutage(s.lease()), s.Jitter, log, "FinishRun", func() error {
		_, err := s.Runner.Store.FinishRun(ctx, run.ID, state.Result{
			Status: state.Skipped, Error: "skipped: the previous run of the job was still in flight (overlap: skip)",
		}, s.clock().Now())
		return err
	})
	if err != nil {
		log.Error("record skipped fire failed; the fire's lease will expire and it will be run then", zap.String("run_id", run.ID), zap.Error(err))
	}
}

// attempts runs run, held by rl, and retries it while the job's retry
// policy allows and the key has at most lastAttempt attempts. It returns
// the last attempt as recorded and its error.
func (s *Scheduler) attempts(job *config.Job, run state.Run, rl *leaseHolder, lastAttempt int, opts RunOptions) (state.Run, error) {
	clock := s.clock()
	for {
		done, err := s.attempt(job, run, rl, opts)
		opts.slot = nil // a retry takes a slot of its own
		if err == nil || done.ErrorClass != ClassRetryable || done.Attempt >= lastAttempt {
			return done, err
		}
		if s.stopCtx.Err() != nil {
			return done, err // shutting down: no new attempts
		}
		delay := Backoff(job.Retries, done.Attempt, s.jitter())
		log := s.Log.With(zap.String("job", job.Name), zap.String("run_id", done.ID), zap.Int("attempt", done.Attempt))
		log.Info("retrying after a retryable failure", zap.Duration("backoff", delay), zap.Int("max_attempts", job.Retries.MaxAttempts))
		wait, stop := clock.After(delay)
		select {
		case <-wait:
		case <-s.stopCtx.Done():
			stop()
			return done, err
		}
		var next state.Run
		rerr := storeRetry(s.runCtx, clock, storeOutage(s.lease()), s.Jitter, log, "Retry", func() (err error) {
			next, err = s.Runner.Store.Retry(s.runCtx, done.ID, s.replica(), clock.Now(), s.lease())
			return err
		})
		if rerr != nil {
			log.Warn("retry not started", zap.Error(rerr))
			return done, err
		}
		run = next
		rl.set(run.ID)
	}
}

// slotsLocked returns the slots of MaxConcurrentRuns, made on first use
// (by Run or a Trigger sharing them), or nil for no limit; s.mu is held.
func (s *Scheduler) slotsLocked() *runSlots {
	if s.slots == nil && s.MaxConcurrentRuns > 0 {
		s.slots = newRunSlots(s.MaxConcurrentRuns)
	}
	return s.slots
}

// attempt runs one attempt under the concurrency limit and the job's
// timeout, measured on the scheduler's clock.
func (s *Scheduler) attempt(job *config.Job, run state.Run, rl *leaseHolder, opts RunOptions) (state.Run, error) {
	if opts.slot != nil {
		defer opts.slot()
	} else if s.slots != nil {
		if !s.takeSlot(job, run, &opts) {
			// Shut down while waiting for a slot: record it as interrupted.
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(context.Cause(s.runCtx))
			return s.Runner.Execute(ctx, job, run, s.recordOptions(opts))
		}
		defer s.slots.release()
	}
	ctx, cancel := context.WithCancelCause(s.runCtx)
	defer cancel(nil)
	rl.bind(cancel)
	defer rl.bind(nil)
	if job.Timeout > 0 {
		stop := s.clock().AfterFunc(job.Timeout, func() {
			cancel(fmt.Errorf("run timed out after %s (the job's timeout)", job.Timeout))
		})
		defer stop()
	}
	return s.Runner.Execute(ctx, job, run, s.recordOptions(opts))
}

// takeSlot takes one of the MaxConcurrentRuns slots for run, waiting for
// one if need be, and reports false if the scheduler shut down meanwhile.
// An attempt that must wait is announced (opts.OnStart) before it waits,
// and not again: a Run now answers at once.
func (s *Scheduler) takeSlot(job *config.Job, run state.Run, opts *RunOptions) bool {
	select {
	case s.slots.ch <- struct{}{}:
		return true
	default:
	}
	s.Log.Info("waiting for a run slot (scheduler.max_concurrent_runs); the run's lease is held meanwhile",
		zap.String("job", job.Name), zap.String("run_id", run.ID), zap.Int("max_concurrent_runs", s.slots.size()))
	if opts.OnStart != nil {
		opts.OnStart(run)
		opts.OnStart = nil
	}
	select {
	case s.slots.ch <- struct{}{}:
		return true
	case <-s.runCtx.Done():
		return false
	}
}

// recordOptions is opts with the scheduler's clock, lease and jitter for
// the retries of the attempt's final record.
func (s *Scheduler) recordOptions(opts RunOptions) RunOptions {
	opts.clock, opts.lease, opts.jitter = s.clock(), s.lease(), s.Jitter
	return opts
}

func (s *Scheduler) jitter() float64 {
	if s.Jitter != nil {
		return s.Jitter()
	}
	return rand.Float64()
}

// Backoff is the wait before the attempt after attempt (1 for the first):
// r.Backoff doubled for each attempt after the first, capped at
// r.MaxBackoff, then jittered to between half and all of that ("equal
// jitter"), with jitter in [0, 1).
func Backoff(r config.Retries, attempt int, jitter float64) time.Duration {
	d := r.Backoff
	for i := 1; i < attempt && d < r.MaxBackoff; i++ {
		d *= 2
	}
	if r.MaxBackoff > 0 && d > r.MaxBackoff {
		d = r.MaxBackoff
	}
	return d/2 + time.Duration(jitter*float64(d/2))
}

// leaseHolder renews the lease of the current attempt every lease/3 on the
// scheduler's clock, retrying a renewal the store failed with backoff
// (storeRetry) and again at the next tick, and cancels the attempt only if
// the lease is lost (state.ErrLeaseLost).
type leaseHolder struct {
	mu     sync.Mutex
	id     string
	cancel context.CancelCauseFunc
	lost   bool
	held   *sync.Map
	// stopRenewals stops the renewals (every); calling it again does
	// nothing.
	stopRenewals func()
}

func (s *Scheduler) holdLease(run state.Run) *leaseHolder {
	h := &leaseHolder{id: run.ID, held: &s.held}
	s.held.Store(run.ID, struct{}{})
	clock := s.clock()
	lease := s.lease()
	// A renewal the store failed is retried with backoff, for up to a
	// lease, rather than only at the next tick; the run ending (stop)
	// cancels the retries.
	h.stopRenewals = every(s.runCtx, clock, lease/3, func(ctx context.Context) bool {
		log := s.Log.With(zap.String("job", run.Job))
		var id string
		err := storeRetry(ctx, clock, lease, s.Jitter, log, "RenewLease", func() error {
			h.mu.Lock()
			id = h.id
			h.mu.Unlock()
			return s.Runner.Store.RenewLease(ctx, id, s.replica(), clock.Now(), lease)
		})
		switch {
		case ctx.Err() != nil:
			return false
		case errors.Is(err, state.ErrLeaseLost):
			// Finished between the tick and the renewal, or taken over.
			h.mu.Lock()
			if h.id == id && h.cancel != nil {
				h.lost = true
				h.cancel(ErrLeaseLost)
				log.Warn("run lease lost to another replica; stopping the run", zap.String("run_id", id))
			}
			h.mu.Unlock()
		case err != nil:
			log.Warn("renew run lease failed; trying again at the next tick", zap.String("run_id", id), zap.Error(err))
		}
		return true
	})
	return h
}

func (h *leaseHolder) set(id string) {
	h.mu.Lock()
	h.held.Delete(h.id)
	h.id = id
	h.held.Store(id, struct{}{})
	h.mu.Unlock()
}

func (h *leaseHolder) bind(cancel context.CancelCauseFunc) {
	h.mu.Lock()
	h.cancel = cancel
	h.mu.Unlock()
}

// stop ends the renewals; calling it again does nothing more.
func (h *leaseHolder) stop() {
	h.stopRenewals()
	h.mu.Lock()
	h.held.Delete(h.id)
	h.mu.Unlock()
}
