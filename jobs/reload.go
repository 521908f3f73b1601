package jobs

import (
	"slices"
	"sync"

	"github.com/lookerexport/exporter/jobs/config"
)

// Reloader follows config reloads: Reload gets the whole new job list.
// The Scheduler, metrics.Metrics and notify.Notifier are Reloaders.
//
// Reload is called by one goroutine at a time, with the list the
// JobSet already serves (so a Reloader may read JobSet.Jobs meanwhile);
// it must not keep the slice's order as a contract nor modify the jobs.
type Reloader interface {
	Reload(jobs []*config.Job)
}

// ReloaderFunc adapts a function to Reloader.
type ReloaderFunc func(jobs []*config.Job)

// Reload implements Reloader.
func (f ReloaderFunc) Reload(jobs []*config.Job) { f(jobs) }

// JobSet is the daemon's current jobs: the one place a config reload
// lands, and what everything that shows or fires jobs follows. A reload
// is one event: Reload swaps the list, then tells each Reloader in the
// order they were given.
//
// All methods are safe for concurrent use; reloads are serialised.
type JobSet struct {
	reload    sync.Mutex // one reload at a time, listeners in order
	mu        sync.RWMutex
	jobs      []*config.Job
	listeners []Reloader
}

// NewJobSet returns a JobSet holding jobs, whose reloads are told to
// listeners in this order.
func NewJobSet(jobs []*config.Job, listeners ...Reloader) *JobSet {
	return &JobSet{jobs: slices.Clone(jobs), listeners: listeners}
}

// Jobs returns the current jobs, in config order. The slice is the
// caller's; the jobs are shared and must not be modified.
func (s *JobSet) Jobs() []*config.Job {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.jobs)
}

// Job returns the current job called name, or nil.
func (s *JobSet) Job(name string) *config.Job {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, j := range s.jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// JobChanges is what a reload changed, by job name in config order.
// Kept jobs take their new settings too (the scheduler from their next
// fire time): a reload does not compare settings.
type JobChanges struct {
	Added, Kept, Removed []string
}

// Reload replaces the jobs and tells every listener, in order, before it
// returns. Requests that read Jobs see the new list from the moment the
// listeners are told.
func (s *JobSet) Reload(jobs []*config.Job) JobChanges {
	s.reload.Lock()
	defer s.reload.Unlock()
	jobs = slices.Clone(jobs)
	s.mu.Lock()
	old := s.jobs
	s.jobs = jobs
	s.mu.Unlock()

	var ch JobChanges
	had := make(map[string]bool, len(old))
	for _, j := range old {
		had[j.Name] = true
	}
	has := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		has[j.Name] = true
		if had[j.Name] {
			ch.Kept = append(ch.Kept, j.Name)
		} else {
			ch.Added = append(ch.Added, j.Name)
		}
	}
	for _, j := range old {
		if !has[j.Name] {
			ch.Removed = append(ch.Removed, j.Name)
		}
	}
	for _, l := range s.listeners {
		l.Reload(slices.Clone(jobs))
	}
	return ch
}
