package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lookerexport/exporter/state"
)

// beginKey begins a READ COMMITTED transaction holding the advisory lock of
// the key (job, scheduled), the same lock StartRun takes: every statement
// after it sees what the previous holder committed.
func (s *Store) beginKey(ctx context.Context, job string, scheduled time.Time) (pgx.Tx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keyLock(job, us(scheduled))); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("lock key: %w", err)
	}
	return tx, nil
}

// Claim implements state.Store. A key nobody has claimed takes one round
// trip: attempt 1 is inserted unless a row of the key exists, and the
// UNIQUE (job, scheduled_time, attempt) constraint lets one of concurrent
// inserts win; the same round trip reads the key's latest attempt, which
// is what the losers of a race answer with. A key already held by a live
// attempt, or finished, takes that one round trip too. Otherwise (an
// expired lease to take over, or a race lost to an attempt removed since)
// Claim reads the key's latest attempt and inserts the next under the
// key's advisory lock, so claims from any replica serialize per key. A
// burst of fires on several replicas then costs the store one round trip
// per fire and replica.
func (s *Store) Claim(ctx context.Context, job string, scheduled time.Time, replica string, now time.Time, lease time.Duration) (state.Run, bool, error) {
	if job == "" {
		return state.Run{}, false, errors.New("claim run: empty job name")
	}
	if lease <= 0 {
		return state.Run{}, false, fmt.Errorf("claim run of job %q: lease %s must be positive", job, lease)
	}
	wrap := func(err error) error {
		return fmt.Errorf("claim run of job %q scheduled at %s: %w", job, us(scheduled).Format(time.RFC3339Nano), err)
	}
	run, claimed, latest, err := s.claimNew(ctx, job, scheduled, replica, now, lease)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // removed meanwhile: decide under the lock
	case err != nil:
		return state.Run{}, false, wrap(err)
	case claimed:
		return run, true, nil
	case latest.Status != state.Running || latest.LeaseEnd(lease).After(now):
		return latest, false, nil // what the locked path below returns for it
	}
	return s.claimLocked(ctx, job, scheduled, replica, now, lease, wrap)
}

// claimNew inserts attempt 1 of a key that has no row, and reads the
// key's latest attempt, in one round trip: the two statements go as one
// pipeline (one implicit transaction). Each statement of a READ COMMITTED
// transaction (the server's usual default) takes its own snapshot, so the
// read sees the insert of a concurrent claim that won; under a stricter
// default it may not, and the caller decides under the key's lock, as
// after a lost race. It returns the run inserted and true, or the latest attempt
// and false; pgx.ErrNoRows when nothing was inserted and no attempt
// exists.
func (s *Store) claimNew(ctx context.Context, job string, scheduled time.Time, replica string, now time.Time, lease time.Duration) (run state.Run, claimed bool, latest state.Run, err error) {
	id, err := uuid.NewV7()
	if err != nil {
		return state.Run{}, false, state.Run{}, fmt.Errorf("generate run ID: %w", err)
	}
	run = state.Run{
		ID:            id.String(),
		Job:           job,
		ScheduledTime: us(scheduled),
		Attempt:       1,
		Status:        state.Running,
		StartedAt:     us(now),
		Replica:       cleanText(replica),
		LeaseExpires:  us(now.Add(lease)),
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at, replica, lease_expires)
		SELECT $1, $2, $3, 1, $4, $5, $6, $7
		WHERE NOT EXISTS (SELECT 1 FROM runs WHERE job = $2 AND scheduled_time = $3)
		ON CONFLICT (job, scheduled_time, attempt) DO NOTHING`,
		run.ID, job, run.ScheduledTime, string(state.Running), run.StartedAt, run.Replica, run.LeaseExpires)
	b.Queue(`SELECT `+runColumns+` FROM runs
		WHERE job = $1 AND scheduled_time = $2 ORDER BY attempt DESC LIMIT 1`, job, run.ScheduledTime)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	tag, err := br.Exec()
	if err != nil {
		return state.Run{}, false, state.Run{}, fmt.Errorf("insert attempt 1: %w", err)
	}
	claimed = tag.RowsAffected() == 1
	latest, err = scanRun(br.QueryRow())
	switch {
	case claimed && err == nil:
		// The row just inserted, read back: nothing to learn from it.
	case claimed:
		return state.Run{}, false, state.Run{}, fmt.Errorf("read attempt 1 back: %w", err)
	case errors.Is(err, pgx.ErrNoRows):
		return state.Run{}, false, state.Run{}, err
	case err != nil:
		return state.Run{}, false, state.Run{}, fmt.Errorf("read the latest attempt: %w", err)
	}
	if err := br.Close(); err != nil {
		return state.Run{}, false, state.Run{}, fmt.Errorf("commit attempt 1: %w", err)
	}
	if claimed {
		return run, true, state.Run{}, nil
	}
	return state.Run{}, false, latest, nil
}

// claimLocked is Claim under the key's advisory lock.
func (s *Store) claimLocked(ctx context.Context, job string, scheduled time.Time, replica string, now time.Time, lease time.Duration, wrap func(error) error) (state.Run, bool, error) {
	tx, err := s.beginKey(ctx, job, scheduled)
	if err != nil {
		return state.Run{}, false, wrap(err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	latest, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM runs
		WHERE job = $1 AND scheduled_time = $2 ORDER BY attempt DESC LIMIT 1`, job, us(scheduled)))
	next := 1
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return state.Run{}, false, wrap(err)
	case latest.Status == state.Running && !latest.LeaseEnd(lease).After(now):
		if _, err := tx.Exec(ctx, `UPDATE runs SET status = $2, finished_at = $3, error_class = $4, error = $5, lease_expires = NULL
			WHERE id = $1`, latest.ID, string(state.Interrupted), us(now), state.ClassLeaseExpired,
			cleanText(state.TakeoverError(latest, replica, lease))); err != nil {
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
	if err := tx.Commit(ctx); err != nil {
		return state.Run{}, false, wrap(fmt.Errorf("commit: %w", err))
	}
	return run, true, nil
}

func insertClaimed(ctx context.Context, tx pgx.Tx, job string, scheduled time.Time, attempt int, replica string, now time.Time, lease time.Duration) (state.Run, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return state.Run{}, fmt.Errorf("generate run ID: %w", err)
	}
	run := state.Run{
		ID:            id.String(),
		Job:           job,
		ScheduledTime: us(scheduled),
		Attempt:       attempt,
		Status:        state.Running,
		StartedAt:     us(now),
		Replica:       cleanText(replica),
		LeaseExpires:  us(now.Add(lease)),
	}
	if _, err := tx.Exec(ctx, `INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at, replica, lease_expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, run.ID, job, run.ScheduledTime, attempt, string(state.Running),
		run.StartedAt, run.Replica, run.LeaseExpires); err != nil {
		return state.Run{}, fmt.Errorf("insert attempt %d: %w", attempt, err)
	}
	return run, nil
}

// Retry implements state.Store.
func (s *Store) Retry(ctx context.Context, prevID string, replica string, now time.Time, lease time.Duration) (state.Run, error) {
	if lease <= 0 {
		return state.Run{}, fmt.Errorf("retry run %s: lease %s must be positive", prevID, lease)
	}
	prev, err := s.GetRun(ctx, prevID)
	if err != nil {
		return state.Run{}, fmt.Errorf("retry: %w", err)
	}
	tx, err := s.beginKey(ctx, prev.Job, prev.ScheduledTime)
	if err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	// Re-read under the lock.
	prev, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, prevID))
	if err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	if !prev.Status.Terminal() {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, state.ErrStillRunning)
	}
	var maxAttempt int
	if err := tx.QueryRow(ctx, `SELECT MAX(attempt) FROM runs WHERE job = $1 AND scheduled_time = $2`,
		prev.Job, prev.ScheduledTime).Scan(&maxAttempt); err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	if maxAttempt != prev.Attempt {
		return state.Run{}, fmt.Errorf("retry run %s (attempt %d): %w (attempt %d exists)", prevID, prev.Attempt, state.ErrNotLatest, maxAttempt)
	}
	run, err := insertClaimed(ctx, tx, prev.Job, prev.ScheduledTime, prev.Attempt+1, replica, now, lease)
	if err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: %w", prevID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return state.Run{}, fmt.Errorf("retry run %s: commit: %w", prevID, err)
	}
	return run, nil
}

// RenewLease implements state.Store.
func (s *Store) RenewLease(ctx context.Context, id string, replica string, now time.Time, lease time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET lease_expires = $2 WHERE id = $1 AND status = $3 AND replica = $4`,
		id, us(now.Add(lease)), string(state.Running), cleanText(replica))
	if err != nil {
		return fmt.Errorf("renew lease of run %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.GetRun(ctx, id); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	return fmt.Errorf("renew lease of run %s for replica %q: %w", id, replica, state.ErrLeaseLost)
}
