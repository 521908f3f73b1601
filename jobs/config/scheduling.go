package config

import (
	"os"
	"strconv"
	"time"
)

// Scheduling defaults.
const (
	DefaultOverlap       = OverlapSkip
	DefaultCatchup       = CatchupLatest
	DefaultCatchupWindow = 24 * time.Hour
	DefaultMaxAttempts   = 3
	DefaultBackoff       = 30 * time.Second
	DefaultMaxBackoff    = 10 * time.Minute
	DefaultLease         = time.Minute
)

// Overlap says what a fire does while the previous run of the job is going.
type Overlap string

// Overlap policies.
const (
	OverlapSkip  Overlap = "skip"  // record the fire as skipped
	OverlapQueue Overlap = "queue" // claim it now, run it when the previous run ends
	OverlapAllow Overlap = "allow" // run it alongside
)

// Catchup says which fires missed while no replica was up run at start.
type Catchup string

// Catch-up policies.
const (
	CatchupNone   Catchup = "none"   // none
	CatchupLatest Catchup = "latest" // the latest missed fire within catchup_window
	CatchupAll    Catchup = "all"    // every missed fire within catchup_window, oldest first
)

// Retries is a job's retry policy: attempts after a retryable failure wait
// Backoff, doubling each time up to MaxBackoff, with jitter.
type Retries struct {
	MaxAttempts int // attempts in all, including the first; 1 means no retries
	Backoff     time.Duration
	MaxBackoff  time.Duration
}

// Scheduler holds the daemon-wide scheduling settings (the scheduler key).
type Scheduler struct {
	MaxConcurrentRuns int           // runs in flight at once in this replica; 0 = no limit
	Lease             time.Duration // how long a claimed run is held without renewal
	Replica           string        // this replica's id in the state store; default host:pid
	DatagroupPoll     time.Duration // how often the daemon reads Looker's datagroups: trigger.go
}

func (l *loader) validateScheduler(raw *rawFile, cfg *Config) {
	if raw.State.Retention != "" {
		d, err := parseDuration(raw.State.Retention)
		if err != nil || d < time.Hour {
			l.addAt("$.state.retention", "", "state.retention %q: give a duration of at least 1h, such as 720h (30 days), or leave it out to keep runs forever", raw.State.Retention)
		} else {
			cfg.State.Retention = d
		}
	}
	s := raw.Scheduler
	if s.MaxConcurrentRuns != nil {
		if *s.MaxConcurrentRuns < 0 {
			l.addAt("$.scheduler.max_concurrent_runs", "", "scheduler.max_concurrent_runs must be 0 (no limit) or more, not %d", *s.MaxConcurrentRuns)
		} else {
			cfg.Scheduler.MaxConcurrentRuns = *s.MaxConcurrentRuns
		}
	}
	cfg.Scheduler.Lease = DefaultLease
	if s.Lease != "" {
		d, err := parseDuration(s.Lease)
		if err != nil || d < time.Second {
			l.addAt("$.scheduler.lease", "", "scheduler.lease %q: give a duration of at least 1s, such as 1m", s.Lease)
		} else {
			cfg.Scheduler.Lease = d
		}
	}
	l.validateDatagroupPoll(raw, cfg)
	cfg.Scheduler.Replica = s.Replica
	if cfg.Scheduler.Replica == "" {
		host, _ := os.Hostname()
		cfg.Scheduler.Replica = host + ":" + strconv.Itoa(os.Getpid())
	}
}

func (l *loader) validateJobScheduling(p, name string, r *rawJob, j *Job) {
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	j.Overlap = Overlap(r.Overlap)
	switch j.Overlap {
	case "":
		j.Overlap = DefaultOverlap
	case OverlapSkip, OverlapQueue, OverlapAllow:
	default:
		bad("overlap", "overlap %q is not one of skip, queue, allow", r.Overlap)
	}
	j.Catchup = Catchup(r.Catchup)
	switch j.Catchup {
	case "":
		j.Catchup = DefaultCatchup
	case CatchupNone, CatchupLatest, CatchupAll:
	default:
		bad("catchup", "catchup %q is not one of none, latest, all", r.Catchup)
	}
	j.CatchupWindow = DefaultCatchupWindow
	if r.CatchupWindow != "" {
		d, err := parseDuration(r.CatchupWindow)
		if err != nil || d <= 0 {
			bad("catchup_window", "catchup_window %q: give a positive duration such as 24h", r.CatchupWindow)
		}
		j.CatchupWindow = d
	}
	j.Retries = Retries{MaxAttempts: DefaultMaxAttempts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff}
	if n := r.Retries.MaxAttempts; n != nil {
		if *n < 1 {
			bad("retries.max_attempts", "retries.max_attempts must be at least 1 (1 means no retries), not %d", *n)
		}
		j.Retries.MaxAttempts = *n
	}
	if r.Retries.Backoff != "" {
		d, err := parseDuration(r.Retries.Backoff)
		if err != nil || d <= 0 {
			bad("retries.backoff", "retries.backoff %q: give a positive duration such as 30s", r.Retries.Backoff)
		}
		j.Retries.Backoff = d
	}
	if r.Retries.MaxBackoff != "" {
		d, err := parseDuration(r.Retries.MaxBackoff)
		if err != nil || d <= 0 {
			bad("retries.max_backoff", "retries.max_backoff %q: give a positive duration such as 10m", r.Retries.MaxBackoff)
		}
		j.Retries.MaxBackoff = d
	}
	if j.Retries.MaxBackoff < j.Retries.Backoff {
		bad("retries.max_backoff", "retries.max_backoff %s is shorter than retries.backoff %s", j.Retries.MaxBackoff, j.Retries.Backoff)
	}
	l.validateSourceTemplates(p, name, j)
}
