// Package state records export runs and coordinates replicas.
//
// Store is the seam; state/sqlite is the embedded default. A run is keyed by
// (job, scheduled time); each try of it is an attempt with its own run ID.
// Slots (AcquireSlot) are counting semaphores with leases that replicas
// sharing a Store use to bound work across all of them, such as the queries
// running at once per Looker user. state/statetest is the conformance suite
// every Store passes.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status is the state of one run attempt.
type Status string

// Run statuses.
const (
	Scheduled   Status = "scheduled"
	Running     Status = "running"
	Succeeded   Status = "succeeded"
	Failed      Status = "failed"
	Interrupted Status = "interrupted"
	Skipped     Status = "skipped"
)

// Run is one attempt of a job at a scheduled time.
type Run struct {
	ID            string    // unique, sortable by creation time
	Job           string    // job name
	ScheduledTime time.Time // the schedule's fire time (UTC in storage)
	Attempt       int       // 1 for the first attempt of (Job, ScheduledTime)
	Status        Status
	StartedAt     time.Time
	FinishedAt    time.Time // zero while running
	Rows          int64
	Bytes         int64
	URIs          []string  // committed objects
	ErrorClass    string    // "retryable", "permanent", "cancelled", ... empty on success
	Error         string    // human-readable error, empty on success
	Replica       string    // the replica that claimed the attempt; empty for a lease-less attempt (see LeaseEnd)
	LeaseExpires  time.Time // while Running under a claim: when another replica may take it over
	QueryIDs      []string  // Looker query ids the attempt ran
	Schema        string    // a JSON document describing the output columns, opaque to state
	// ContentHash is a digest of the rows of the result (with its
	// columns), opaque to state: a job with when: changed compares it
	// with the last published run's. Empty when the result was not read.
	ContentHash string
}

// Result is what a finished attempt reports.
type Result struct {
	Status     Status
	Rows       int64
	Bytes      int64
	URIs       []string
	ErrorClass string
	Error      string
	QueryIDs   []string // Looker query ids
	Schema     string   // a JSON document, opaque to state
	// ContentHash is the digest of the result's rows (Run.ContentHash),
	// stored as valid UTF-8 without NUL bytes.
	ContentHash string
	// Log, when not nil, replaces the run's stored log lines (as
	// SaveRunLog does) together with the outcome: both are stored, or
	// neither. Nil leaves the stored lines as they are.
	Log []LogLine
}

// LogLine is one captured log line of a run.
type LogLine struct {
	Time    time.Time
	Level   string
	Message string
	Fields  string // JSON object of the structured fields
}

// ListOptions filters ListRuns.
type ListOptions struct {
	Job   string // empty for all jobs
	Limit int    // 0 for a default of DefaultListLimit
}

// DefaultListLimit is ListRuns' limit when ListOptions.Limit is 0.
const DefaultListLimit = 100

// EffectiveLimit is the number of runs ListRuns returns at most: Limit,
// or DefaultListLimit for 0. A negative Limit is an error.
func (o ListOptions) EffectiveLimit() (int, error) {
	switch {
	case o.Limit < 0:
		return 0, fmt.Errorf("list runs: negative limit %d", o.Limit)
	case o.Limit == 0:
		return DefaultListLimit, nil
	}
	return o.Limit, nil
}

// Store persists runs. All methods are safe for concurrent use. A run
// starts only by Claim (or Retry of a finished attempt): there is no way
// into a run that skips the claim and its lease. Rows without a lease,
// which exporter versions before claims wrote, are still understood (see
// Run.LeaseEnd); the stores' StartRun, outside this interface, writes
// them for tests (statetest.Store).
type Store interface {
	// FinishRun records the outcome of a running attempt at now and
	// returns the attempt as recorded (as GetRun would read it back).
	// It returns ErrNotFound for an unknown id, ErrNotRunning if the attempt
	// is no longer Running (finishing twice fails), and an error if
	// res.Status is not Terminal. A URIs list of length zero reads back as
	// nil. Error texts are stored as valid UTF-8 without NUL bytes (invalid
	// bytes become U+FFFD) so that any error can be recorded.
	FinishRun(ctx context.Context, id string, res Result, now time.Time) (Run, error)
	// GetRun returns one attempt, or ErrNotFound.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns attempts, newest first.
	ListRuns(ctx context.Context, opts ListOptions) ([]Run, error)
	// LastSuccess returns the succeeded attempt of job with the latest
	// scheduled time, or ErrNotFound when none succeeded.
	LastSuccess(ctx context.Context, job string) (Run, error)
	// LastChecked returns the attempt of job with the latest scheduled
	// time that checked the job's data (Run.Checked: succeeded, or skipped
	// by its send condition), or ErrNotFound when none did. Staleness is
	// measured from it.
	LastChecked(ctx context.Context, job string) (Run, error)
	// LatestScheduled returns the newest attempt of job's latest scheduled
	// time (any status), or ErrNotFound when the job never ran.
	LatestScheduled(ctx context.Context, job string) (Run, error)
	// Attempts returns every attempt of (job, scheduled), oldest first; an
	// empty slice when there is none.
	Attempts(ctx context.Context, job string, scheduled time.Time) ([]Run, error)
	// Running returns every attempt of job that is Running, whatever its
	// lease, newest scheduled first; an empty slice when there is none. It
	// reads only those attempts, however long the job's history.
	Running(ctx context.Context, job string) ([]Run, error)

	// Claim atomically claims the key (job, scheduled) for replica, so that
	// of N replicas firing the same schedule exactly one runs it:
	//   - no attempt recorded yet: attempt 1 is inserted Running, held by
	//     replica until now+lease; claimed is true.
	//   - the latest attempt is Running and its lease expired (its replica
	//     died or lost the database; see Run.LeaseEnd for lease-less
	//     attempts): that attempt is finished Interrupted with ErrorClass
	//     ClassLeaseExpired and TakeoverError's text, and the next attempt
	//     is inserted Running for replica; claimed is true.
	//   - otherwise (running under a live lease, or finished): nothing
	//     changes; the latest attempt is returned with claimed false.
	// A claimed attempt must be renewed (RenewLease) before its lease
	// expires and finished with FinishRun.
	Claim(ctx context.Context, job string, scheduled time.Time, replica string, now time.Time, lease time.Duration) (run Run, claimed bool, err error)
	// Retry inserts the next attempt of the key of the finished attempt
	// prevID, Running and held by replica until now+lease, provided prevID
	// is still the latest attempt of its key; otherwise (another replica
	// already started one) it returns ErrNotLatest. It returns
	// ErrStillRunning when prevID is not finished, ErrNotFound for an
	// unknown id.
	Retry(ctx context.Context, prevID string, replica string, now time.Time, lease time.Duration) (Run, error)
	// RenewLease extends the lease of a Running attempt held by replica to
	// now+lease. It returns ErrLeaseLost when the attempt is no longer
	// Running or is held by another replica (it was taken over), and
	// ErrNotFound for an unknown id.
	RenewLease(ctx context.Context, id string, replica string, now time.Time, lease time.Duration) error
	// Prune deletes finished attempts that finished before before, keeping
	// for each job its latest succeeded attempt (LastSuccess and catch-up
	// depend on it), together with their logs. It returns how many attempts
	// it deleted. Running and Scheduled attempts are never pruned.
	Prune(ctx context.Context, before time.Time) (int, error)

	// SaveRunLog replaces the stored log lines of a run (the runner keeps
	// the last N). ErrNotFound for an unknown run.
	SaveRunLog(ctx context.Context, runID string, lines []LogLine) error
	// RunLog returns the stored log lines of a run, oldest first
	// (ErrNotFound for an unknown run; an empty slice when none were saved).
	RunLog(ctx context.Context, runID string) ([]LogLine, error)

	// AcquireSlot takes one of max slots named key for holder, valid until
	// now+lease: a counting semaphore with leases, shared by every Store on
	// the database (max_concurrent_queries per Looker user across replicas).
	// It returns false, nil when max live holders already hold key. A
	// holder's lease ends at now+lease: from that instant it no longer
	// counts, and the next AcquireSlot of key (by any holder, whatever its
	// answer) removes it, so rows of dead holders do not accumulate. A
	// holder that already holds key renews it and gets true, even when more
	// than max hold key (max changed). Atomic across processes sharing the
	// store. It fails for an empty key or holder, max < 1 or lease <= 0. key
	// and holder are stored as valid UTF-8 without NUL bytes (invalid bytes
	// become U+FFFD).
	AcquireSlot(ctx context.Context, key, holder string, max int, now time.Time, lease time.Duration) (bool, error)
	// RenewSlot extends holder's slot of key to now+lease. It returns
	// ErrSlotLost when holder no longer holds it: it was released, or its
	// lease ended and an AcquireSlot of key removed it. A holder whose lease
	// ended but that nothing removed yet still holds its slot (no other
	// holder was admitted in its place), and renewing keeps it. It fails for
	// lease <= 0.
	RenewSlot(ctx context.Context, key, holder string, now time.Time, lease time.Duration) error
	// ReleaseSlot gives holder's slot of key back; releasing a slot not held
	// is not an error.
	ReleaseSlot(ctx context.Context, key, holder string) error

	// Close releases the store.
	Close() error
}

// LeaseEnd is when the Running attempt r may be taken over by a Claim with
// lease: r.LeaseExpires, or, for an attempt without a lease (written by
// exporter versions before claims, and by the stores' StartRun for tests;
// nothing renews it), r.StartedAt+lease, so that a dead process's
// lease-less attempt does not hold its key for ever.
func (r Run) LeaseEnd(lease time.Duration) time.Time {
	if r.LeaseExpires.IsZero() {
		return r.StartedAt.Add(lease)
	}
	return r.LeaseExpires
}

// TakeoverError is the Error recorded by Claim with the attempt r it
// finishes as Interrupted because its lease (LeaseEnd(lease)) expired and
// replica took the key over.
func TakeoverError(r Run, replica string, lease time.Duration) string {
	holder := fmt.Sprintf("replica %q", r.Replica)
	if r.Replica == "" {
		holder = "the process that started it without a lease"
	}
	return fmt.Sprintf("%s stopped renewing its lease (expired %s); replica %q took the run over",
		holder, r.LeaseEnd(lease).Format(time.RFC3339Nano), replica)
}

// ClassCondition is the ErrorClass of an attempt recorded Skipped because
// its job's send condition (job key when) did not hold: it ran, read every
// row, and published nothing, as asked. Its Error is the reason.
const ClassCondition = "condition"

// Checked reports whether r is a finished check of its job's data: it
// succeeded, or was skipped by its send condition (ClassCondition).
// Staleness (metrics, alerts) counts such runs as fresh: a job with
// when: changed whose data does not change is healthy, not stale.
func (r Run) Checked() bool {
	return r.Status == Succeeded || (r.Status == Skipped && r.ErrorClass == ClassCondition)
}

// ClassLeaseExpired is the ErrorClass of an attempt that Claim finished as
// Interrupted because its replica stopped renewing its lease.
const ClassLeaseExpired = "lease_expired"

// Terminal reports whether s is a final status that FinishRun accepts:
// Succeeded, Failed, Interrupted or Skipped.
func (s Status) Terminal() bool {
	switch s {
	case Succeeded, Failed, Interrupted, Skipped:
		return true
	}
	return false
}

// ErrNotFound is returned for an unknown run.
var ErrNotFound = errors.New("run not found")

// ErrNotRunning is returned by FinishRun for a run that is no longer
// Running, e.g. one already finished by another caller.
var ErrNotRunning = errors.New("run is not running")

// ErrLeaseLost is returned by RenewLease when the attempt is no longer held
// by the caller: it finished, or another replica took the key over.
var ErrLeaseLost = errors.New("run lease lost")

// ErrNotLatest is returned by Retry when a newer attempt of the key exists.
var ErrNotLatest = errors.New("run is not the latest attempt of its key")

// ErrStillRunning is returned by Retry when the previous attempt is still
// Running.
var ErrStillRunning = errors.New("previous attempt is still running")

// ErrSlotLost is returned by RenewSlot when the holder no longer holds its
// slot: it was released, or its lease ended and another AcquireSlot of the
// key removed it. Whatever the slot guarded is no longer counted.
var ErrSlotLost = errors.New("slot lost: its lease ended and it was given to another holder, or it was released")

// Answered reports whether err is one of the answers a Store gives when it
// was reached (ErrNotFound, ErrNotRunning, ErrLeaseLost, ErrNotLatest,
// ErrStillRunning, ErrSlotLost): asking again will not change it. Any other
// error is a failure to reach or use the store (a database locked or
// restarting, a dropped connection) that a caller may retry.
func Answered(err error) bool {
	for _, answer := range []error{ErrNotFound, ErrNotRunning, ErrLeaseLost, ErrNotLatest, ErrStillRunning, ErrSlotLost} {
		if errors.Is(err, answer) {
			return true
		}
	}
	return false
}
