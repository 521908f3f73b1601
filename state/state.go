// Package state records export runs.
//
// Store is the seam; state/sqlite is the embedded default. A run is keyed by
// (job, scheduled time); each try of it is an attempt with its own run ID.
// state/statetest is the conformance suite every Store passes.
package state

import (
	"context"
	"errors"
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
	URIs          []string // committed objects
	ErrorClass    string   // "retryable", "permanent", "cancelled", ... empty on success
	Error         string   // human-readable error, empty on success
}

// Result is what a finished attempt reports.
type Result struct {
	Status     Status
	Rows       int64
	Bytes      int64
	URIs       []string
	ErrorClass string
	Error      string
}

// ListOptions filters ListRuns.
type ListOptions struct {
	Job   string // empty for all jobs
	Limit int    // 0 for a default of 100
}

// Store persists runs. All methods are safe for concurrent use.
type Store interface {
	// StartRun records a new attempt of (job, scheduled) with status
	// Running, started at now, and returns it. Its Attempt is one more than
	// the highest attempt recorded for that key.
	StartRun(ctx context.Context, job string, scheduled time.Time, now time.Time) (Run, error)
	// FinishRun records the outcome of a running attempt at now.
	// It returns ErrNotFound for an unknown id, ErrNotRunning if the attempt
	// is no longer Running (finishing twice fails), and an error if
	// res.Status is not Terminal. A URIs list of length zero reads back as
	// nil. Error texts are stored as valid UTF-8 without NUL bytes (invalid
	// bytes become U+FFFD) so that any error can be recorded.
	FinishRun(ctx context.Context, id string, res Result, now time.Time) error
	// GetRun returns one attempt, or ErrNotFound.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns attempts, newest first.
	ListRuns(ctx context.Context, opts ListOptions) ([]Run, error)
	// Close releases the store.
	Close() error
}

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
