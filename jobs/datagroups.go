package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/state"
)

// Datagroups lists Looker's datagroups with their triggered_at.
// *lookerapi.Client is one. It is safe for concurrent use.
type Datagroups interface {
	Datagroups(ctx context.Context) ([]lookerapi.Datagroup, error)
}

// TriggerStatus is what this replica last read of a job's datagroup.
type TriggerStatus struct {
	Datagroup string // "model::name"
	// TriggeredAt is the datagroup's triggered_at as Looker last reported
	// it; zero before the first read, or when it never triggered.
	TriggeredAt time.Time
	CheckedAt   time.Time // when this replica last read it; zero before the first poll
	// Error is why the job is not fired now: the datagroup's
	// trigger_error, a datagroup Looker does not know, or a failed read.
	Error string
}

// datagroupWatch is the Scheduler's datagroup poller state, per job name.
type datagroupWatch struct {
	mu      sync.Mutex
	jobs    map[string]*watchedJob
	pollErr string // the last failed read's error, logged once; "" after a read succeeds
}

type watchedJob struct {
	status TriggerStatus
	primed bool      // seen holds the store's word or a fire of this replica
	seen   time.Time // the latest triggered_at fired or known to be run
	logged string    // the last Error logged, so each distinct one is logged once
}

func (s *Scheduler) datagroupPoll() time.Duration {
	if s.DatagroupPoll <= 0 {
		return config.DefaultDatagroupPoll
	}
	return s.DatagroupPoll
}

// TriggerStatus returns what this replica last read of the datagroup of
// the job named job, and false when the job has no datagroup trigger or
// the scheduler does not run.
func (s *Scheduler) TriggerStatus(job string) (TriggerStatus, bool) {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	w, ok := s.watch.jobs[job]
	if !ok {
		return TriggerStatus{}, false
	}
	return w.status, true
}

// watchDatagroups reads Looker's datagroups at once and then every
// DatagroupPoll on the scheduler's clock, with one request for all jobs,
// and fires each job with a datagroup trigger when its triggered_at
// advances (pollDatagroups), until ctx is done. It follows Reload: each
// poll reads the jobs the scheduler fires now.
func (s *Scheduler) watchDatagroups(ctx context.Context) {
	for {
		s.pollDatagroups(ctx)
		tick, stop := s.clock().After(s.datagroupPoll())
		select {
		case <-ctx.Done():
			stop()
			return
		case <-tick:
		}
	}
}

// pollDatagroups is one poll. A job is fired, through the one door
// (fire: claim the key (job, triggered_at), then run it), when its
// datagroup's triggered_at is later than the last one it ran for. The
// first poll of a job (after start, after a reload that changed its
// datagroup) asks the store for the job's latest run: a triggered_at
// at or before it was already run, one after it advanced while no replica
// watched and is fired as catchup says (none: not fired; latest and all:
// fired once, within catchup_window). A job that never ran waits for the
// next advance. A datagroup with a trigger_error, or that Looker does not
// list, is logged once per distinct error and shown (TriggerStatus), not
// fired; a failed read is logged and tried again at the next poll, firing
// nothing.
func (s *Scheduler) pollDatagroups(ctx context.Context) {
	type target struct {
		job *config.Job
		st  *jobState
	}
	s.mu.Lock()
	var targets []target
	for _, l := range s.loops {
		if l.job.Trigger.Datagroup != "" {
			targets = append(targets, target{l.job, s.states[l.job.Name]})
		}
	}
	s.mu.Unlock()
	w := &s.watch
	w.mu.Lock()
	kept := map[string]*watchedJob{}
	for _, tg := range targets {
		wj := w.jobs[tg.job.Name]
		if wj == nil || wj.status.Datagroup != tg.job.Trigger.Datagroup {
			wj = &watchedJob{status: TriggerStatus{Datagroup: tg.job.Trigger.Datagroup}}
		}
		kept[tg.job.Name] = wj
	}
	w.jobs = kept // removed jobs are forgotten: added again, they start afresh
	w.mu.Unlock()
	if len(targets) == 0 {
		return
	}

	log := s.Log.With(zap.Duration("poll_interval", s.datagroupPoll()))
	dgs, err := s.Datagroups.Datagroups(ctx)
	now := s.clock().Now()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		first := w.pollErr != err.Error()
		w.pollErr = err.Error()
		for _, tg := range targets {
			w.jobs[tg.job.Name].status.Error = "read Looker's datagroups: " + err.Error()
		}
		w.mu.Unlock()
		if first {
			log.Warn("read Looker's datagroups failed; no datagroup trigger fires until a read succeeds, trying again every poll interval", zap.Error(err))
		}
		return
	}
	w.mu.Lock()
	if w.pollErr != "" {
		log.Info("read Looker's datagroups again")
		w.pollErr = ""
	}
	w.mu.Unlock()
	byKey := make(map[string]lookerapi.Datagroup, len(dgs))
	for _, d := range dgs {
		byKey[d.Key()] = d
	}
	for _, tg := range targets {
		job := tg.job
		jlog := s.Log.With(zap.String("job", job.Name), zap.String("datagroup", job.Trigger.Datagroup))
		d, ok := byKey[job.Trigger.Datagroup]
		w.mu.Lock()
		wj := w.jobs[job.Name]
		wj.status.CheckedAt = now
		wj.status.TriggeredAt = d.TriggeredAt
		switch {
		case !ok:
			wj.status.Error = "Looker has no datagroup " + job.Trigger.Datagroup + " (or the API user may not see its model); check trigger.datagroup in " + job.File
		case d.TriggerError != "":
			wj.status.Error = "the datagroup's trigger check failed in Looker: " + d.TriggerError
		default:
			wj.status.Error = ""
		}
		msg, primed, seen := wj.status.Error, wj.primed, wj.seen
		logIt := msg != "" && msg != wj.logged
		wj.logged = msg
		w.mu.Unlock()
		if logIt {
			jlog.Warn("datagroup trigger not fired", zap.String("error", msg), zap.Int("line", job.Line))
		}
		if !ok {
			continue
		}
		if !primed {
			// Primed at the first read that lists the datagroup, broken
			// or not: its first trigger after a fix then fires.
			if seen, primed = s.primeTrigger(ctx, jlog, job, d.TriggeredAt, now); !primed {
				continue // the store could not tell; asked again at the next poll
			}
		}
		fire := msg == "" && d.TriggeredAt.After(seen)
		if fire {
			seen = d.TriggeredAt
		}
		w.mu.Lock()
		wj.primed, wj.seen = true, seen
		w.mu.Unlock()
		if fire {
			jlog.Info("datagroup triggered; running the job", zap.Time("triggered_at", d.TriggeredAt))
			s.fire(job, d.TriggeredAt.In(job.Location), job.Overlap, tg.st)
		}
	}
}

// primeTrigger returns the triggered_at job is known to have run for at
// its first poll, given the datagroup's current triggered_at; see
// pollDatagroups. False when the store could not tell.
func (s *Scheduler) primeTrigger(ctx context.Context, log *zap.Logger, job *config.Job, triggeredAt, now time.Time) (time.Time, bool) {
	latest, err := s.Runner.Store.LatestScheduled(ctx, job.Name)
	switch {
	case errors.Is(err, state.ErrNotFound) && triggeredAt.IsZero():
		return triggeredAt, true // never triggered: its first trigger fires
	case errors.Is(err, state.ErrNotFound):
		log.Info("watching the datagroup; the job runs when its triggered_at advances", zap.Time("triggered_at", triggeredAt))
		return triggeredAt, true // a new job: nothing was missed
	case err != nil:
		if ctx.Err() == nil {
			log.Warn("read the job's latest run failed; asking again at the next datagroup poll", zap.Error(err))
		}
		return time.Time{}, false
	}
	seen := latest.ScheduledTime
	if !triggeredAt.After(seen) {
		return seen, true
	}
	if job.Catchup == config.CatchupNone || job.Catchup == "" || triggeredAt.Before(now.Add(-job.CatchupWindow)) {
		log.Info("the datagroup triggered while no replica watched; not running it (catchup, catchup_window)",
			zap.Time("triggered_at", triggeredAt), zap.Time("latest_run", seen), zap.String("catchup", string(job.Catchup)))
		return triggeredAt, true
	}
	log.Info("the datagroup triggered while no replica watched; running it (catchup)", zap.Time("triggered_at", triggeredAt), zap.Time("latest_run", seen))
	return seen, true
}

// startDatagroups starts the datagroup poller beside Run's loops; s.mu is
// held. Without Datagroups, jobs with a datagroup trigger fire only on
// their schedule, if any, and that is logged.
func (s *Scheduler) startDatagroups(ctx context.Context) {
	if s.Datagroups == nil {
		for _, job := range s.Jobs {
			if job.Trigger.Datagroup != "" {
				s.Log.Warn("no Looker client to read datagroups; datagroup triggers will not fire", zap.String("job", job.Name))
			}
		}
		return
	}
	s.loopsWG.Add(1)
	go func() {
		defer s.loopsWG.Done()
		s.watchDatagroups(ctx)
	}()
}

// TriggerInfo is a job's trigger as `exporter jobs`, the API and the
// status page show it.
type TriggerInfo struct {
	Datagroup string `json:"datagroup"` // "model::name"
	// LastRunFor is the latest triggered_at the job ran for (any outcome),
	// from the store; nil when the datagroup never fired it.
	LastRunFor *time.Time `json:"last_run_for,omitempty"`
	// TriggeredAt, CheckedAt and Error are what the daemon last read of
	// the datagroup (TriggerStatus); absent outside the daemon.
	TriggeredAt *time.Time `json:"triggered_at,omitempty"`
	CheckedAt   *time.Time `json:"checked_at,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// NewTriggerInfo returns job's trigger with the latest triggered_at it
// ran for, read from store among its latest 100 runs, and, when live is not
// nil, what the daemon last read of its datagroup (Scheduler.TriggerStatus).
// It returns nil for a job without a trigger.
func NewTriggerInfo(ctx context.Context, store state.Store, job *config.Job, live func(job string) (TriggerStatus, bool)) (*TriggerInfo, error) {
	if job.Trigger.Datagroup == "" {
		return nil, nil
	}
	ti := &TriggerInfo{Datagroup: job.Trigger.Datagroup}
	runs, err := store.ListRuns(ctx, state.ListOptions{Job: job.Name, Limit: 100})
	if err != nil {
		return ti, fmt.Errorf("job %s: read its runs for the last triggered_at: %w", job.Name, err)
	}
	for _, r := range runs {
		if at := job.TriggeredAt(r.ScheduledTime); !at.IsZero() && (ti.LastRunFor == nil || at.After(*ti.LastRunFor)) {
			at = at.In(job.Location)
			ti.LastRunFor = &at
		}
	}
	if live == nil {
		return ti, nil
	}
	if st, ok := live(job.Name); ok {
		ti.Error = st.Error
		if !st.TriggeredAt.IsZero() {
			at := st.TriggeredAt.In(job.Location)
			ti.TriggeredAt = &at
		}
		if !st.CheckedAt.IsZero() {
			ti.CheckedAt = &st.CheckedAt
		}
	}
	return ti, nil
}
