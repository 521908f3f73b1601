package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lookerexport/exporter/state"
)

// Claim implements state.Store. The read of the key's latest attempt and the
// insert happen in one transaction that holds SQLite's write lock from its
// start (_txlock=immediate), so claims from any Store on the file serialize.
func (s *Store) Claim(ctx context.Context, job string, scheduled time.Time, replica string, now time.Time, lease time.Duration) (state.Run, bool, error) {
	if job == "" {
		return state.Run{}, false, errors.New("claim run: empty job name")
	}
	if lease <= 0 {
		return state.Run{}, false, fmt.Errorf("claim run of job %q: lease %s must be positive", job, lease)
	}
	wrap := func(err error) error {
		return fmt.Errorf("claim run of job %q scheduled at %s: %w", job, fromMicros(micros(scheduled)).Format(time.RFC3339Nano), err)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return state.Run{}, false, wrap(err)
	}
	defer tx.Rollback() // a no-op after Commit

	latest, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE job = ? AND scheduled_time = ? ORDER BY attempt DESC LIMIT 1`, job, micros(scheduled)))
	next := 1
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return state.Run{}, false, wrap(err)
	case latest.Status == state.Running && !latest.LeaseEnd(lease).After(now):
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, finished_at = ?, error_class = ?, error = ?, lease_expires = NULL
			WHERE id = ?`, string(state.Interrupted), micros(now), state.ClassLeaseExpired,
			cleanText(state.TakeoverError(latest, replica, lease)), latest.ID); err != nil {
			return state.Run{}, false, wrap(fmt.Errorf("interrupt expired attempt %s: %w", latest.ID, err))
		}
		next = latest.Attempt + 1
	default:
		return latest, false, nil
	}
	run, err := insertClaimed(ctx, tx, job, scheduled, next, replica, now, lease)
	if err != nil {
		return state.Run{}, false, wrap(err)
	}
	if err := tx.Commit(); err != nil {
		return state.Run{}, false, wrap(fmt.Errorf("commit: %w", err))
	}
	return run, true, nil
}

func insertClaimed(ctx context.Context, tx *sql.Tx, job string, scheduled time.Time, attempt int, replica string, now time.Time, lease time.Duration) (state.Run, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return state.Run{}, fmt.Errorf("generate run ID: %w", err)
	}
	run := state.Run{
		ID:            id.String(),
		Job:           job,
		ScheduledTime: fromMicros(micros(scheduled)),
		Attempt:       attempt,
		Status:        state.Running,
		StartedAt:     fromMicros(micros(now)),
		Replica:       cleanText(replica),
		LeaseExpires:  fromMicros(micros(now.Add(lease))),
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at, replica, lease_expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, run.ID, job, micros(scheduled), attempt, string(state.Running),
		micros(now), run.Replica, micros(run.LeaseExpires)); err != nil {
		return state.Run{}, fmt.Errorf("insert attempt %d: %w", attempt, err)
	}
	return run, nil
}

// Retry implements state.Store.
func (s *Store) Retry(ctx context.Context, prevID string, replica string, now time.Time, lease time.Duration) (state.Run, error) {
	if lease <= 0 {
		return state.Run{}, fmt.Errorf("retry run %s: lease %s must be positive", prevID, lease)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	defer tx.Rollback() // a no-op after Commit
	prev, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, prevID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	case !prev.Status.Terminal():
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, state.ErrStillRunning)
	}
	var maxAttempt int
	if err := tx.QueryRowContext(ctx, `SELECT MAX(attempt) FROM runs WHERE job = ? AND scheduled_time = ?`,
		prev.Job, micros(prev.ScheduledTime)).Scan(&maxAttempt); err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	if maxAttempt != prev.Attempt {
		return state.Run{}, fmt.Errorf("retry run %s (attempt %d): %w (attempt %d exists)", prevID, prev.Attempt, state.ErrNotLatest, maxAttempt)
	}
	run, err := insertClaimed(ctx, tx, prev.Job, prev.ScheduledTime, prev.Attempt+1, replica, now, lease)
	if err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	if err := tx.Commit(); err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: commit: %w", prevID, err)
	}
	return run, nil
}

// RenewLease implements state.Store.
func (s *Store) RenewLease(ctx context.Context, id string, replica string, now time.Time, lease time.Duration) error {
	r, err := s.wdb.ExecContext(ctx, `UPDATE runs SET lease_expires = ? WHERE id = ? AND status = ? AND replica = ?`,
		micros(now.Add(lease)), id, string(state.Running), cleanText(replica))
	if err != nil {
		return fmt.Errorf("renew lease of run %s: %w", id, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("renew lease of run %s: %w", id, err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.GetRun(ctx, id); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	return fmt.Errorf("renew lease of run %s for replica %q: %w", id, replica, state.ErrLeaseLost)
}
