package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/statetest"
)

var t0 = time.Date(2025, time.June, 1, 6, 0, 0, 0, time.UTC)

func openPath(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformanceFile(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) statetest.Store {
		return openPath(t, filepath.Join(t.TempDir(), "state.db"))
	})
}

func TestConformanceShared(t *testing.T) {
	t.Parallel()
	statetest.RunShared(t, func(t *testing.T, n int) []statetest.Store {
		path := filepath.Join(t.TempDir(), "state.db")
		stores := make([]statetest.Store, n)
		for i := range stores {
			stores[i] = openPath(t, path)
		}
		return stores
	})
}

// Rows of holders whose leases ended go away when the key is next acquired:
// a daemon that runs for months keeps a few rows per key.
func TestSlotsDoNotAccumulate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openPath(t, Memory)
	const lease = time.Minute
	for i := range 50 {
		// Each holder dies without releasing; the next comes after its lease.
		ok, err := s.AcquireSlot(ctx, "user-1", fmt.Sprintf("run-%d", i), 2, t0.Add(time.Duration(i)*lease), lease)
		require.NoError(t, err)
		require.True(t, ok)
	}
	var n int
	require.NoError(t, s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM slots`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) statetest.Store {
		return openPath(t, Memory)
	})
}

func TestOpenConfiguresConnections(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dirs", "state.db")
	s := openPath(t, path)

	_, err := os.Stat(path)
	require.NoError(t, err, "Open creates the parent directories and the file")

	var mode string
	require.NoError(t, s.rdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)

	for name, db := range map[string]*sql.DB{"writer": s.wdb, "reader": s.rdb} {
		var timeout, fk, queryOnly int
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout), name)
		require.Equal(t, 5000, timeout, name)
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk), name)
		require.Equal(t, 1, fk, name)
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly), name)
		require.Equal(t, name == "reader", queryOnly == 1, name)
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDir := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notDir, bytes.Repeat([]byte("not a database\n"), 512), 0o600))

	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{"empty", "", "empty database path"},
		{"query string", filepath.Join(dir, "s.db?_pragma=x"), "plain file path"},
		{"file URI", "file:" + filepath.Join(dir, "s.db"), "plain file path"},
		{"parent is a file", filepath.Join(notDir, "s.db"), "create parent directory"},
		{"not a database", notDir, "file is not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.dsn)
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, s)
		})
	}
}

func TestReopenKeepsRunsAndMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")

	s, err := Open(ctx, path)
	require.NoError(t, err)
	r, err := s.StartRun(ctx, "daily", t0, t0)
	require.NoError(t, err)
	_, err = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded, Rows: 3, URIs: []string{"gs://b/o"}}, t0.Add(time.Minute))
	require.NoError(t, err)
	want, err := s.GetRun(ctx, r.ID)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	for range 2 {
		s = openPath(t, path)
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)

		var versions []int
		rows, err := s.rdb.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		require.NoError(t, err)
		for rows.Next() {
			var v int
			require.NoError(t, rows.Scan(&v))
			versions = append(versions, v)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		var wantVersions []int
		for v := range migrations {
			wantVersions = append(wantVersions, v+1)
		}
		require.Equal(t, wantVersions, versions)
	}
	next, err := s.StartRun(ctx, "daily", t0, t0)
	require.NoError(t, err)
	require.Equal(t, 2, next.Attempt)
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = s.wdb.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, len(migrations)+1)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(ctx, path)
	require.ErrorContains(t, err, "run a newer exporter")
	require.Nil(t, s)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		t.Cleanup(func() { require.NoError(t, stores[i].Close()) })
	}
	var count int
	require.NoError(t, stores[0].rdb.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&count))
	require.Equal(t, len(migrations), count)
}

// Two Stores on one file stand in for two processes: they share nothing but
// SQLite's file locks.
func TestStoresSharingAFileAssignDistinctAttempts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	a := openPath(t, path)
	b := openPath(t, path)

	const n = 40
	attempts := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			r, err := s.StartRun(t.Context(), "shared", t0, t0)
			attempts[i], errs[i] = r.Attempt, err
		})
	}
	close(start)
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		require.False(t, seen[attempts[i]], "attempt %d assigned twice", attempts[i])
		seen[attempts[i]] = true
	}
	for want := 1; want <= n; want++ {
		require.True(t, seen[want], "attempt %d missing", want)
	}

	runs, err := b.ListRuns(t.Context(), state.ListOptions{Job: "shared"})
	require.NoError(t, err)
	require.Len(t, runs, n, "each Store sees the other's runs")
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}

// The database and its -wal and -shm files hold job names, errors and run
// logs: only the exporter's user may read them, whatever the umask.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "state.db")
	s := openPath(t, path)
	_, err := s.StartRun(t.Context(), "daily", t0, t0)
	require.NoError(t, err)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "%s", p)
	}
}

// A process opening a new file while another holds its write lock gets
// SQLITE_BUSY from the switch to WAL mode at once, without SQLite's busy
// handler (see enableWAL). enableWAL waits and tries again, up to its
// timeout, counted in the sleeps it asks for.
func TestEnableWALWaitsForTheWriteLock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		releaseAt   int // the sleep at which the other writer lets go; 0 never
		wantErr     string
		wantSleptMs int
	}{
		{name: "released after the first try", releaseAt: 1, wantSleptMs: 1},
		{name: "released after a few tries", releaseAt: 4, wantSleptMs: 1 + 2 + 4 + 8},
		{name: "never released", wantErr: "database is locked", wantSleptMs: 1 + 2 + 4 + 8 + 16 + 32 + 8*50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "state.db")
			open := func() *sql.DB {
				db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
				require.NoError(t, err)
				db.SetMaxOpenConns(1)
				t.Cleanup(func() { require.NoError(t, db.Close()) })
				return db
			}
			other, db := open(), open()
			// The other writer holds the write lock of a file still in
			// rollback mode, as a process between its own steps would.
			_, err := other.ExecContext(ctx, `CREATE TABLE t (x)`)
			require.NoError(t, err)
			lock, err := other.Conn(ctx)
			require.NoError(t, err)
			_, err = lock.ExecContext(ctx, `BEGIN IMMEDIATE`)
			require.NoError(t, err)

			var sleeps int
			var slept time.Duration
			err = enableWAL(ctx, db, 500*time.Millisecond, func(_ context.Context, d time.Duration) error {
				sleeps++
				slept += d
				if sleeps == tc.releaseAt {
					_, err := lock.ExecContext(ctx, `ROLLBACK`)
					require.NoError(t, err)
				}
				return nil
			})
			require.Equal(t, time.Duration(tc.wantSleptMs)*time.Millisecond, slept)
			require.NoError(t, lock.Close())
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, err, "another process held the database's write lock for 463ms")
				return
			}
			require.NoError(t, err)
			header := make([]byte, 20)
			f, err := os.Open(path)
			require.NoError(t, err)
			_, err = io.ReadFull(f, header)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.Equal(t, []byte{2, 2}, header[18:20], "the file format bytes say WAL")
		})
	}
}

func TestEnableWALStopsWithTheContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	lock, err := other.Conn(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lock.Close()) })
	_, err = lock.ExecContext(t.Context(), `BEGIN IMMEDIATE`)
	require.NoError(t, err)

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = enableWAL(t.Context(), db, time.Minute, func(context.Context, time.Duration) error { return ctx.Err() })
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, sleep(ctx, time.Hour), context.Canceled, "sleep returns when the context ends")
}

// An error other than SQLITE_BUSY is returned at once, without waiting.
func TestEnableWALGivesUpOnOtherErrors(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	err = enableWAL(t.Context(), db, time.Minute, func(context.Context, time.Duration) error {
		t.Error("enableWAL waited after an error that is not SQLITE_BUSY")
		return nil
	})
	require.ErrorContains(t, err, "switch to WAL mode: sql: database is closed")
	require.NotContains(t, err.Error(), "write lock")
}

// TestRunningReadsOnlyRunningAttempts: Running finds a job's Running
// attempts through the partial index runs_running, not by reading the
// job's history (the scheduler asks on every fire of an overlap: skip job
// and every lease for every job).
func TestRunningReadsOnlyRunningAttempts(t *testing.T) {
	t.Parallel()
	s := openPath(t, filepath.Join(t.TempDir(), "state.db"))
	ctx := t.Context()
	_, err := s.wdb.ExecContext(ctx, `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 20000)
		INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at, finished_at)
		SELECT 'r' || n, 'busy', ? + n * 60000000, 1, 'succeeded', ?, ? FROM i`, micros(t0), micros(t0), micros(t0))
	require.NoError(t, err)
	running, claimed, err := s.Claim(ctx, "busy", t0, "a", t0, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)

	rs, err := s.rdb.QueryContext(ctx, `EXPLAIN QUERY PLAN `+runningQuery, "busy")
	require.NoError(t, err)
	defer rs.Close()
	var plan []string
	for rs.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rs.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rs.Err())
	require.Contains(t, strings.Join(plan, "\n"), "runs_running", "plan:\n%s", strings.Join(plan, "\n"))

	got, err := s.Running(ctx, "busy")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, running.ID, got[0].ID)
}
