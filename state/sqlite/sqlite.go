package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
)

// Memory is the dsn for a private in-memory database, for tests.
const Memory = ":memory:"

// busyTimeout is how long a write waits for another connection (usually
// another process on the same file) to release the database lock before it
// fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// maxReadConns bounds the read pool; WAL lets readers run alongside the
// single writer.
const maxReadConns = 4

// Store is a state.Store in one SQLite database. See the package
// documentation for its concurrency guarantees.
type Store struct {
	// wdb has exactly one connection: every write in this process is
	// serialized by database/sql's pool (which honours ctx while waiting)
	// instead of by SQLite's busy handler.
	wdb *sql.DB
	// rdb serves reads. It is wdb itself for an in-memory database, which
	// exists only inside its one connection.
	rdb *sql.DB
}

var _ state.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at dsn and applies any
// pending schema migrations.
//
// dsn is a file path, whose parent directories are created if missing, or
// Memory (":memory:") for a private in-memory database that lives until
// Close. A path must not contain '?' and must not be a "file:" URI: Open
// sets the connection parameters itself.
//
// Open fails if the database's schema is newer than this binary knows: an
// older exporter must not write to a database a newer one has migrated.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("open sqlite state: empty database path; give a file path such as /var/lib/exporter/state.db")
	}
	if strings.ContainsRune(dsn, '?') || strings.HasPrefix(dsn, "file:") {
		return nil, fmt.Errorf("open sqlite state %q: give a plain file path without '?' or \"file:\"; connection parameters are set by the exporter", dsn)
	}

	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	params.Add("_pragma", "foreign_keys(1)")
	// Explicit transactions (migrations) take the write lock up front, so a
	// read inside them can never be invalidated by another writer.
	params.Set("_txlock", "immediate")

	if dsn == Memory {
		db, err := sql.Open("sqlite", Memory+"?"+params.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite state in memory: %w", err)
		}
		// One connection, never recycled: a second would be a second,
		// empty database.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		s := &Store{wdb: db, rdb: db}
		if err := s.init(ctx); err != nil {
			return nil, errors.Join(fmt.Errorf("open sqlite state in memory: %w", err), s.Close())
		}
		return s, nil
	}

	if dir := filepath.Dir(dsn); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite state %s: create parent directory: %w", dsn, err)
		}
	}
	wparams := cloneValues(params)
	wparams.Add("_pragma", "journal_mode(WAL)")
	wdb, err := sql.Open("sqlite", dsn+"?"+wparams.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite state %s: %w", dsn, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)

	rparams := cloneValues(params)
	rparams.Set("_query_only", "true")
	rdb, err := sql.Open("sqlite", dsn+"?"+rparams.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite state %s: %w", dsn, err), wdb.Close())
	}
	rdb.SetMaxOpenConns(maxReadConns)
	rdb.SetMaxIdleConns(maxReadConns)

	s := &Store{wdb: wdb, rdb: rdb}
	if err := s.init(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite state %s: %w", dsn, err), s.Close())
	}
	return s, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// init connects the writer first, so that WAL mode and the schema exist
// before any reader connects, then checks the readers.
func (s *Store) init(ctx context.Context) error {
	if err := s.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := migrate(ctx, s.wdb); err != nil {
		return err
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("connect reader: %w", err)
	}
	return nil
}

// Close closes the database. Calls after the first return nil.
func (s *Store) Close() error {
	err := s.wdb.Close()
	if s.rdb != s.wdb {
		err = errors.Join(err, s.rdb.Close())
	}
	if err != nil {
		return fmt.Errorf("close sqlite state: %w", err)
	}
	return nil
}

// micros is how times are stored: UTC Unix microseconds, which sort as
// instants and drop the location.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// StartRun implements state.Store. The attempt number is computed and the row
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
func (s *Store) FinishRun(ctx context.Context, id string, res state.Result, now time.Time) error {
	if !res.Status.Terminal() {
		return fmt.Errorf("finish run %s: status %q is not a final status (want succeeded, failed, interrupted or skipped)", id, res.Status)
	}
	uris, err := encodeURIs(res.URIs)
	if err != nil {
		return fmt.Errorf("finish run %s: %w", id, err)
	}
	queryIDs, err := encodeURIs(res.QueryIDs)
	if err != nil {
		return fmt.Errorf("finish run %s: query ids: %w", id, err)
	}
	r, err := s.wdb.ExecContext(ctx, `
		UPDATE runs
		SET status = ?, finished_at = ?, rows = ?, bytes = ?, uris = ?, error_class = ?, error = ?,
			query_ids = ?, output_schema = ?, lease_expires = NULL
		WHERE id = ? AND status = ?`,
		string(res.Status), micros(now), res.Rows, res.Bytes, uris,
		cleanText(res.ErrorClass), cleanText(res.Error), queryIDs, cleanText(res.Schema), id, string(state.Running),
	)
	if err != nil {
		return fmt.Errorf("finish run %s: %w", id, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("finish run %s: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	// Nothing updated: tell an unknown run from a finished one.
	var status string
	err = s.rdb.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = ?`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("finish run %s: %w", id, state.ErrNotFound)
	case err != nil:
		return fmt.Errorf("finish run %s: look up status: %w", id, err)
	}
	return fmt.Errorf("finish run %s: %w (it is %s)", id, state.ErrNotRunning, status)
}

const runColumns = `id, job, scheduled_time, attempt, status, started_at, finished_at, rows, bytes, uris, error_class, error,
	COALESCE(replica, ''), lease_expires, query_ids, output_schema`

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
		&r.Replica, &lease, &queryIDs, &r.Schema); err != nil {
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

// cleanText makes s valid UTF-8 without NUL bytes: the contract every Store
// shares, because PostgreSQL rejects both and an error text quoted from a
// response body must still be recordable.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
