package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
)

// StartRun records a new attempt of (job, scheduled) with status Running,
// started at now and held by no lease, and returns it; its Attempt is one
// more than the highest recorded for the key. It is not part of
// state.Store, since every run starts by a claim: it writes the row that
// exporter versions before claims wrote, so tests can check such rows are
// taken over (state.Run.LeaseEnd) and statetest can check attempt
// numbering under contention (statetest.Store). It holds a transaction-scoped advisory
// lock on the key while it reads the highest attempt and inserts the next, so
// concurrent callers, from any replica, get distinct, consecutive attempts
// without retries. The transaction is READ COMMITTED whatever the server's
// default, so the insert, which takes its snapshot after the lock is granted,
// sees the attempt committed by the previous holder.
func (s *Store) StartRun(ctx context.Context, job string, scheduled time.Time, now time.Time) (state.Run, error) {
	if job == "" {
		return state.Run{}, errors.New("start run: empty job name")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return state.Run{}, fmt.Errorf("start run of job %q: generate run ID: %w", job, err)
	}
	run := state.Run{
		ID:            id.String(),
		Job:           job,
		ScheduledTime: us(scheduled),
		Status:        state.Running,
		StartedAt:     us(now),
	}
	if err := s.insertRun(ctx, &run); err != nil {
		return state.Run{}, fmt.Errorf("start run of job %q scheduled at %s: %w", job, run.ScheduledTime.Format(time.RFC3339Nano), err)
	}
	return run, nil
}

func (s *Store) insertRun(ctx context.Context, run *state.Run) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keyLock(run.Job, run.ScheduledTime)); err != nil {
		return fmt.Errorf("lock key: %w", err)
	}
	err = tx.QueryRow(ctx, `
		INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at)
		SELECT $1, $2, $3, COALESCE(MAX(attempt), 0) + 1, $4, $5
		FROM runs WHERE job = $2 AND scheduled_time = $3
		RETURNING attempt`,
		run.ID, run.Job, run.ScheduledTime, string(state.Running), run.StartedAt,
	).Scan(&run.Attempt)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// FinishRun implements state.Store. The update is conditional on the run
// still being Running, and PostgreSQL re-checks that condition after waiting
// for a concurrent update of the row, so of several concurrent callers
// exactly one succeeds.
func (s *Store) FinishRun(ctx context.Context, id string, res state.Result, now time.Time) (state.Run, error) {
	if !res.Status.Terminal() {
		return state.Run{}, fmt.Errorf("finish run %s: status %q is not a final status (want succeeded, failed, interrupted or skipped)", id, res.Status)
	}
	uris := make([]string, len(res.URIs)) // never nil: uris is NOT NULL
	for i, u := range res.URIs {
		uris[i] = cleanText(u)
	}
	queryIDs := make([]string, len(res.QueryIDs))
	for i, q := range res.QueryIDs {
		queryIDs[i] = cleanText(q)
	}
	update := `UPDATE runs
		SET status = $2, finished_at = $3, rows = $4, bytes = $5, uris = $6, error_class = $7, error = $8,
			query_ids = $10, output_schema = $11, content_hash = $12, lease_expires = NULL
		WHERE id = $1 AND status = $9
		RETURNING ` + runColumns
	args := []any{id, string(res.Status), us(now), res.Rows, res.Bytes, uris,
		cleanText(res.ErrorClass), cleanText(res.Error), string(state.Running), queryIDs, cleanText(res.Schema), cleanText(res.ContentHash)}
	if res.Log != nil {
		// One statement, one round trip: the log is written only if the
		// update took (done has its row). Its lines are upserted and any
		// older ones past them deleted, keys that never meet, since the
		// parts of one statement do not see each other's changes.
		update = `WITH done AS (` + update + `),
			gone AS (DELETE FROM run_logs WHERE run_id = $1 AND seq >= $13 AND EXISTS (SELECT 1 FROM done)),
			logged AS (INSERT INTO run_logs (run_id, seq, time, level, message, fields)
				SELECT $1, ` + logLineColumns + ` FROM ` + logLines(14) + ` WHERE EXISTS (SELECT 1 FROM done)
				ON CONFLICT (run_id, seq) DO UPDATE SET time = EXCLUDED.time, level = EXCLUDED.level,
					message = EXCLUDED.message, fields = EXCLUDED.fields)
			SELECT * FROM done`
		args = append(append(args, len(res.Log)), logArrays(res.Log)...)
	}
	r, err := scanRun(s.pool.QueryRow(ctx, update, args...))
	switch {
	case err == nil:
		return r, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return state.Run{}, fmt.Errorf("finish run %s: %w", id, err)
	}
	// Nothing updated: tell an unknown run from a finished one.
	var status string
	err = s.pool.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1`, id).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return state.Run{}, fmt.Errorf("finish run %s: %w", id, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("finish run %s: look up status: %w", id, err)
	}
	return state.Run{}, fmt.Errorf("finish run %s: %w (it is %s)", id, state.ErrNotRunning, status)
}

const runColumns = `id, job, scheduled_time, attempt, status, started_at, finished_at, rows, bytes, uris, error_class, error,
	COALESCE(replica, ''), lease_expires, query_ids, output_schema, content_hash`

// GetRun implements state.Store.
func (s *Store) GetRun(ctx context.Context, id string) (state.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return state.Run{}, fmt.Errorf("get run %s: %w", id, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// ListRuns implements state.Store. Runs are ordered by StartedAt, newest
// first, and runs started at the same instant by ID, last created first.
func (s *Store) ListRuns(ctx context.Context, opts state.ListOptions) ([]state.Run, error) {
	limit, err := opts.EffectiveLimit()
	if err != nil {
		return nil, err
	}
	var rs pgx.Rows
	if opts.Job == "" {
		rs, err = s.pool.Query(ctx,
			`SELECT `+runColumns+` FROM runs ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	} else {
		rs, err = s.pool.Query(ctx,
			`SELECT `+runColumns+` FROM runs WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, opts.Job, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, nil, scanRuns)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// scanRuns is scanRun for rows.Collect.
func scanRuns(rs pgx.Rows) (state.Run, error) { return scanRun(rs) }

func scanRun(row pgx.Row) (state.Run, error) {
	var (
		r        state.Run
		status   string
		finished *time.Time
		lease    *time.Time
	)
	if err := row.Scan(&r.ID, &r.Job, &r.ScheduledTime, &r.Attempt, &status, &r.StartedAt, &finished,
		&r.Rows, &r.Bytes, &r.URIs, &r.ErrorClass, &r.Error,
		&r.Replica, &lease, &r.QueryIDs, &r.Schema, &r.ContentHash); err != nil {
		return state.Run{}, err
	}
	if lease != nil {
		r.LeaseExpires = lease.UTC()
	}
	if len(r.QueryIDs) == 0 {
		r.QueryIDs = nil
	}
	r.Status = state.Status(status)
	// pgx returns timestamptz in time.Local.
	r.ScheduledTime = r.ScheduledTime.UTC()
	r.StartedAt = r.StartedAt.UTC()
	if finished != nil {
		r.FinishedAt = finished.UTC()
	}
	if len(r.URIs) == 0 {
		r.URIs = nil
	}
	return r, nil
}

// latestSuccesses selects the id of each job's latest succeeded attempt.
const latestSuccesses = `SELECT id FROM runs r WHERE r.status = 'succeeded' AND NOT EXISTS (
	SELECT 1 FROM runs r2 WHERE r2.job = r.job AND r2.status = 'succeeded'
	AND (r2.scheduled_time > r.scheduled_time OR (r2.scheduled_time = r.scheduled_time AND r2.attempt > r.attempt)))`

// Prune implements state.Store.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs
		WHERE finished_at IS NOT NULL AND finished_at < $1 AND status NOT IN ($2, $3)
		AND id NOT IN (`+latestSuccesses+`)`, us(before), string(state.Running), string(state.Scheduled))
	if err != nil {
		return 0, fmt.Errorf("prune runs finished before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) oneRun(ctx context.Context, what string, sql string, args ...any) (state.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, sql, args...))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return state.Run{}, fmt.Errorf("%s: %w", what, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("%s: %w", what, err)
	}
	return r, nil
}

// LastSuccess implements state.Store.
func (s *Store) LastSuccess(ctx context.Context, job string) (state.Run, error) {
	return s.oneRun(ctx, fmt.Sprintf("last success of job %q", job), `SELECT `+runColumns+` FROM runs
		WHERE job = $1 AND status = $2 ORDER BY scheduled_time DESC, attempt DESC LIMIT 1`, job, string(state.Succeeded))
}

// LastChecked implements state.Store.
func (s *Store) LastChecked(ctx context.Context, job string) (state.Run, error) {
	return s.oneRun(ctx, fmt.Sprintf("last check of job %q", job), `SELECT `+runColumns+` FROM runs
		WHERE job = $1 AND (status = $2 OR (status = $3 AND error_class = $4))
		ORDER BY scheduled_time DESC, attempt DESC LIMIT 1`, job, string(state.Succeeded), string(state.Skipped), state.ClassCondition)
}

// LatestScheduled implements state.Store.
func (s *Store) LatestScheduled(ctx context.Context, job string) (state.Run, error) {
	return s.oneRun(ctx, fmt.Sprintf("latest run of job %q", job), `SELECT `+runColumns+` FROM runs
		WHERE job = $1 ORDER BY scheduled_time DESC, attempt DESC LIMIT 1`, job)
}

// runningQuery selects the Running attempts of a job. The status is a
// literal, not a parameter, so that the planner can use the partial index
// runs_running (migration 5) for every job.
const runningQuery = `SELECT ` + runColumns + ` FROM runs WHERE job = $1 AND status = '` + string(state.Running) + `'
	ORDER BY scheduled_time DESC, attempt DESC`

// Running implements state.Store.
func (s *Store) Running(ctx context.Context, job string) ([]state.Run, error) {
	rs, err := s.pool.Query(ctx, runningQuery, job)
	if err != nil {
		return nil, fmt.Errorf("running attempts of job %q: %w", job, err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, []state.Run{}, scanRuns)
	if err != nil {
		return nil, fmt.Errorf("running attempts of job %q: %w", job, err)
	}
	return out, nil
}

// Attempts implements state.Store.
func (s *Store) Attempts(ctx context.Context, job string, scheduled time.Time) ([]state.Run, error) {
	rs, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs WHERE job = $1 AND scheduled_time = $2
		ORDER BY attempt`, job, us(scheduled))
	if err != nil {
		return nil, fmt.Errorf("attempts of job %q at %s: %w", job, us(scheduled).Format(time.RFC3339), err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, []state.Run{}, scanRuns)
	if err != nil {
		return nil, fmt.Errorf("attempts of job %q: %w", job, err)
	}
	return out, nil
}
