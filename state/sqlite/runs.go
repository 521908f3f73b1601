package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
)

// StartRun records a new attempt of (job, scheduled) with status Running,
// started at now and held by no lease, and returns it; its Attempt is one
// more than the highest recorded for the key. It is not part of
// state.Store, since every run starts by a claim: it writes the row that
// exporter versions before claims wrote, so tests can check such rows are
// taken over (state.Run.LeaseEnd) and statetest can check attempt
// numbering under contention (statetest.Store). The attempt number is computed and the row
// inserted by one statement under SQLite's single write lock, so concurrent
// callers, in this process or another on the same file, never share one.
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
		ScheduledTime: fromMicros(micros(scheduled)),
		Status:        state.Running,
		StartedAt:     fromMicros(micros(now)),
	}
	err = s.wdb.QueryRowContext(ctx, `
		INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at)
		SELECT ?1, ?2, ?3, COALESCE(MAX(attempt), 0) + 1, ?4, ?5
		FROM runs WHERE job = ?2 AND scheduled_time = ?3
		RETURNING attempt`,
		run.ID, job, micros(scheduled), string(state.Running), micros(now),
	).Scan(&run.Attempt)
	if err != nil {
		return state.Run{}, fmt.Errorf("start run of job %q scheduled at %s: %w", job, run.ScheduledTime.Format(time.RFC3339Nano), err)
	}
	return run, nil
}

// FinishRun implements state.Store. The update is conditional on the run
// still being Running, so of several concurrent callers exactly one succeeds.
func (s *Store) FinishRun(ctx context.Context, id string, res state.Result, now time.Time) (state.Run, error) {
	if !res.Status.Terminal() {
		return state.Run{}, fmt.Errorf("finish run %s: status %q is not a final status (want succeeded, failed, interrupted or skipped)", id, res.Status)
	}
	uris, err := encodeURIs(res.URIs)
	if err != nil {
		return state.Run{}, fmt.Errorf("finish run %s: %w", id, err)
	}
	queryIDs, err := encodeURIs(res.QueryIDs)
	if err != nil {
		return state.Run{}, fmt.Errorf("finish run %s: query ids: %w", id, err)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return state.Run{}, fmt.Errorf("finish run %s: %w", id, err)
	}
	defer tx.Rollback() // a no-op after Commit
	r, err := scanRun(tx.QueryRowContext(ctx, `
		UPDATE runs
		SET status = ?, finished_at = ?, rows = ?, bytes = ?, uris = ?, error_class = ?, error = ?,
			query_ids = ?, output_schema = ?, content_hash = ?, lease_expires = NULL
		WHERE id = ? AND status = ?
		RETURNING `+runColumns,
		string(res.Status), micros(now), res.Rows, res.Bytes, uris,
		cleanText(res.ErrorClass), cleanText(res.Error), queryIDs, cleanText(res.Schema), cleanText(res.ContentHash), id, string(state.Running),
	))
	switch {
	case err == nil:
		if res.Log != nil {
			if err := writeLog(ctx, tx, id, res.Log); err != nil {
				return state.Run{}, fmt.Errorf("finish run %s: save its log: %w", id, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return state.Run{}, fmt.Errorf("finish run %s: commit: %w", id, err)
		}
		return r, nil
	case !errors.Is(err, sql.ErrNoRows):
		return state.Run{}, fmt.Errorf("finish run %s: %w", id, err)
	}
	_ = tx.Rollback()
	// Nothing updated: tell an unknown run from a finished one.
	var status string
	err = s.rdb.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = ?`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
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
	r, err := scanRun(s.rdb.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
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
	var rs *sql.Rows
	if opts.Job == "" {
		rs, err = s.rdb.QueryContext(ctx,
			`SELECT `+runColumns+` FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`, limit)
	} else {
		rs, err = s.rdb.QueryContext(ctx,
			`SELECT `+runColumns+` FROM runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT ?`, opts.Job, limit)
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

type scanner interface{ Scan(dest ...any) error }

// scanRuns is scanRun for rows.Collect.
func scanRuns(rs *sql.Rows) (state.Run, error) { return scanRun(rs) }

func scanRun(sc scanner) (state.Run, error) {
	var (
		r                      state.Run
		status, uris, queryIDs string
		scheduled, started     int64
		finished, lease        sql.NullInt64
	)
	if err := sc.Scan(&r.ID, &r.Job, &scheduled, &r.Attempt, &status, &started, &finished,
		&r.Rows, &r.Bytes, &uris, &r.ErrorClass, &r.Error,
		&r.Replica, &lease, &queryIDs, &r.Schema, &r.ContentHash); err != nil {
		return state.Run{}, err
	}
	if lease.Valid {
		r.LeaseExpires = fromMicros(lease.Int64)
	}
	if err := json.Unmarshal([]byte(queryIDs), &r.QueryIDs); err != nil {
		return state.Run{}, fmt.Errorf("decode query ids of run %s: %w", r.ID, err)
	}
	if len(r.QueryIDs) == 0 {
		r.QueryIDs = nil
	}
	r.Status = state.Status(status)
	r.ScheduledTime = fromMicros(scheduled)
	r.StartedAt = fromMicros(started)
	if finished.Valid {
		r.FinishedAt = fromMicros(finished.Int64)
	}
	if err := json.Unmarshal([]byte(uris), &r.URIs); err != nil {
		return state.Run{}, fmt.Errorf("decode URIs of run %s: %w", r.ID, err)
	}
	if len(r.URIs) == 0 {
		r.URIs = nil
	}
	return r, nil
}

func encodeURIs(uris []string) (string, error) {
	if len(uris) == 0 {
		return "[]", nil
	}
	clean := make([]string, len(uris))
	for i, u := range uris {
		clean[i] = cleanText(u)
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return "", fmt.Errorf("encode URIs: %w", err)
	}
	return string(b), nil
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

// LastChecked implements state.Store.
func (s *Store) LastChecked(ctx context.Context, job string) (state.Run, error) {
	r, err := scanRun(s.rdb.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE job = ? AND (status = ? OR (status = ? AND error_class = ?))
		ORDER BY scheduled_time DESC, attempt DESC LIMIT 1`, job, string(state.Succeeded), string(state.Skipped), state.ClassCondition))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return state.Run{}, fmt.Errorf("last check of job %q: %w", job, state.ErrNotFound)
	case err != nil:
		return state.Run{}, fmt.Errorf("last check of job %q: %w", job, err)
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

// runningQuery selects the Running attempts of a job. The status is a
// literal, not a parameter, so that the planner can use the partial index
// runs_running (migration 5) for every job.
const runningQuery = `SELECT ` + runColumns + ` FROM runs WHERE job = ? AND status = '` + string(state.Running) + `'
	ORDER BY scheduled_time DESC, attempt DESC`

// Running implements state.Store.
func (s *Store) Running(ctx context.Context, job string) ([]state.Run, error) {
	rs, err := s.rdb.QueryContext(ctx, runningQuery, job)
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
