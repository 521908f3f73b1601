package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
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

// Prune implements state.Store.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	r, err := s.wdb.ExecContext(ctx, `DELETE FROM runs
		WHERE finished_at IS NOT NULL AND finished_at < ? AND status NOT IN (?, ?)
		AND id NOT IN (`+latestSuccesses+`)`, micros(before), string(state.Running), string(state.Scheduled))
	if err != nil {
		return 0, fmt.Errorf("prune runs finished before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return int(n), nil
}

// latestSuccesses selects the id of each job's latest succeeded attempt.
const latestSuccesses = `SELECT id FROM runs r WHERE r.status = 'succeeded' AND NOT EXISTS (
	SELECT 1 FROM runs r2 WHERE r2.job = r.job AND r2.status = 'succeeded'
	AND (r2.scheduled_time > r.scheduled_time OR (r2.scheduled_time = r.scheduled_time AND r2.attempt > r.attempt)))`

// LastSuccess implements state.Store.
func (s *Store) LastSuccess(ctx context.Context, job string) (state.Run, error) {
	r, err := scanRun(s.rdb.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE job = ? AND status = ?
		ORDER BY scheduled_time DESC, attempt DESC LIMIT 1`, job, string(state.Succeeded)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return state.Run{}, fmt.Errorf("last success of job %q: %w", job, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("last success of job %q: %w", job, err)
	}
	return r, nil
}

// LatestScheduled implements state.Store.
func (s *Store) LatestScheduled(ctx context.Context, job string) (state.Run, error) {
	r, err := scanRun(s.rdb.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE job = ?
		ORDER BY scheduled_time DESC, attempt DESC LIMIT 1`, job))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return state.Run{}, fmt.Errorf("latest run of job %q: %w", job, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("latest run of job %q: %w", job, err)
	}
	return r, nil
}

// Attempts implements state.Store.
func (s *Store) Attempts(ctx context.Context, job string, scheduled time.Time) ([]state.Run, error) {
	rs, err := s.rdb.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE job = ? AND scheduled_time = ?
		ORDER BY attempt`, job, micros(scheduled))
	if err != nil {
		return nil, fmt.Errorf("attempts of job %q at %s: %w", job, scheduled.UTC().Format(time.RFC3339), err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, []state.Run{}, scanRuns)
	if err != nil {
		return nil, fmt.Errorf("attempts of job %q: %w", job, err)
	}
	return out, nil
}

// SaveRunLog implements state.Store.
func (s *Store) SaveRunLog(ctx context.Context, runID string, lines []state.LogLine) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	defer tx.Rollback() // a no-op after Commit
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("save log of run %s: %w", runID, state.ErrNotFound)
	case err != nil:
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM run_logs WHERE run_id = ?`, runID); err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	for i, l := range lines {
		fields := l.Fields
		if fields == "" {
			fields = "{}"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_logs (run_id, seq, time, level, message, fields) VALUES (?, ?, ?, ?, ?, ?)`,
			runID, i, micros(l.Time), cleanText(l.Level), cleanText(l.Message), cleanText(fields)); err != nil {
			return fmt.Errorf("save log of run %s: line %d: %w", runID, i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save log of run %s: commit: %w", runID, err)
	}
	return nil
}

// RunLog implements state.Store.
func (s *Store) RunLog(ctx context.Context, runID string) ([]state.LogLine, error) {
	if _, err := s.GetRun(ctx, runID); err != nil {
		return nil, fmt.Errorf("run log: %w", err)
	}
	rs, err := s.rdb.QueryContext(ctx, `SELECT time, level, message, fields FROM run_logs WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("log of run %s: %w", runID, err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, []state.LogLine{}, func(rs *sql.Rows) (state.LogLine, error) {
		var (
			l  state.LogLine
			tm int64
		)
		err := rs.Scan(&tm, &l.Level, &l.Message, &l.Fields)
		l.Time = fromMicros(tm)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("log of run %s: %w", runID, err)
	}
	return out, nil
}
