package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/statetest"
)

const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var t0 = time.Date(2025, time.June, 1, 6, 0, 0, 0, time.UTC)

// testDSN returns the server to test against: EXPORTER_TEST_POSTGRES_DSN or
// the local default.
func testDSN() string {
	if dsn := os.Getenv("EXPORTER_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return defaultTestDSN
}

// redacted is dsn fit for a test log: without a password.
func redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the DSN in EXPORTER_TEST_POSTGRES_DSN"
}

// adminConn connects to the test server, skipping the test if there is none
// (failing under CI, where a skip would hide that nothing was tested).
func adminConn(t *testing.T) *pgx.Conn {
	t.Helper()
	dsn := testDSN()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		msg := "PostgreSQL is not reachable at " + redacted(dsn) + ": " + err.Error() +
			"; to run these tests start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test) " +
			"or set EXPORTER_TEST_POSTGRES_DSN to a database the tests may create schemas in"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return conn
}

// newSchema creates an empty schema that is dropped when t ends, and returns
// a DSN whose search_path selects it, so tests run in parallel on one
// database without seeing each other's tables.
func newSchema(t *testing.T) string {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	_, err := conn.Exec(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		// t.Context is already cancelled in Cleanup.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testDSN())
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	return withSearchPath(t, testDSN(), schema)
}

func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	adminConn(t).Close(context.Background()) // skip once, not per subtest
	statetest.Run(t, func(t *testing.T) statetest.Store {
		return openDSN(t, newSchema(t))
	})
}

// Stores on one schema stand in for replicas: each has its own pool.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	adminConn(t).Close(context.Background())
	statetest.RunShared(t, func(t *testing.T, n int) []statetest.Store {
		dsn := newSchema(t)
		stores := make([]statetest.Store, n)
		for i := range stores {
			stores[i] = openDSN(t, dsn)
		}
		return stores
	})
}

// Rows of holders whose leases ended go away when the key is next acquired:
// a daemon that runs for months keeps a few rows per key.
func TestSlotsDoNotAccumulate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openDSN(t, newSchema(t))
	const lease = time.Minute
	for i := range 50 {
		// Each holder dies without releasing; the next comes after its lease.
		ok, err := s.AcquireSlot(ctx, "user-1", fmt.Sprintf("run-%d", i), 2, t0.Add(time.Duration(i)*lease), lease)
		require.NoError(t, err)
		require.True(t, ok)
	}
	var n int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM slots`).Scan(&n))
	require.Equal(t, 1, n)
}

// A server whose default isolation is SERIALIZABLE must not break slots:
// their transactions pin READ COMMITTED, so that what they read after the
// key's advisory lock is granted includes what the previous holder committed.
func TestSlotsUnderSerializableDefault(t *testing.T) {
	t.Parallel()
	adminConn(t).Close(context.Background())
	statetest.RunShared(t, func(t *testing.T, n int) []statetest.Store {
		dsn := newSchema(t)
		if strings.HasPrefix(dsn, "postgres") {
			dsn += "&default_transaction_isolation=serializable"
		} else {
			dsn += " default_transaction_isolation=serializable"
		}
		stores := make([]statetest.Store, n)
		for i := range stores {
			s := openDSN(t, dsn)
			var level string
			require.NoError(t, s.pool.QueryRow(t.Context(), `SHOW default_transaction_isolation`).Scan(&level))
			require.Equal(t, "serializable", level)
			stores[i] = s
		}
		return stores
	})
}

func TestTablesLiveInTheSearchPathSchema(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	s := openDSN(t, dsn)
	var schema string
	require.NoError(t, s.pool.QueryRow(t.Context(),
		`SELECT table_schema FROM information_schema.tables WHERE table_name = 'runs' AND table_schema = current_schema()`).Scan(&schema))
	require.True(t, strings.HasPrefix(schema, "t_"), schema)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "replica %d", i)
		t.Cleanup(func() { require.NoError(t, stores[i].Close()) })
	}
	var versions []int
	rows, err := stores[0].pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	var want []int
	for v := range migrations {
		want = append(want, v+1)
	}
	require.Equal(t, want, versions)
}

func TestReopenKeepsRuns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := newSchema(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	r, err := s.StartRun(ctx, "daily", t0, t0)
	require.NoError(t, err)
	_, err = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded, URIs: []string{"gs://b/o"}}, t0.Add(time.Minute))
	require.NoError(t, err)
	want, err := s.GetRun(ctx, r.ID)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openDSN(t, dsn)
	got, err := s.GetRun(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, want, got)
	next, err := s.StartRun(ctx, "daily", t0, t0)
	require.NoError(t, err)
	require.Equal(t, 2, next.Attempt)
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := newSchema(t)
	s := openDSN(t, dsn)
	_, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, len(migrations)+1)
	require.NoError(t, err)

	s2, err := Open(ctx, dsn)
	require.ErrorContains(t, err, "run a newer exporter")
	require.Nil(t, s2)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	adminConn(t).Close(context.Background()) // skip when there is no server

	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{"unparsable", "postgres://u:s3cret@127.0.0.1:5432/test?sslmode=bogus", "parse connection string"},
		{"missing schema", withSearchPath(t, testDSN(), "t_does_not_exist"), "no schema in the search_path exists"},
		{"unknown database", strings.Replace(defaultTestDSN, "/test?", "/exporter_no_such_db?", 1), "check that PostgreSQL is running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.dsn)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "s3cret", "the password never appears in errors")
			require.Nil(t, s)
		})
	}
}

// Stores on one schema stand in for replicas: each has its own pool.
func TestReplicasAssignDistinctAttempts(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	replicas := []*Store{openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}

	const n = 30
	attempts := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		s := replicas[i%len(replicas)]
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
}

// A server whose default isolation is SERIALIZABLE must not break attempt
// assignment: StartRun pins READ COMMITTED.
func TestStartRunUnderSerializableDefault(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	if strings.HasPrefix(dsn, "postgres") {
		dsn += "&default_transaction_isolation=serializable"
	} else {
		dsn += " default_transaction_isolation=serializable"
	}
	s := openDSN(t, dsn)
	var level string
	require.NoError(t, s.pool.QueryRow(t.Context(), `SHOW default_transaction_isolation`).Scan(&level))
	require.Equal(t, "serializable", level)

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = s.StartRun(t.Context(), "ser", t0, t0) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	runs, err := s.ListRuns(t.Context(), state.ListOptions{Job: "ser"})
	require.NoError(t, err)
	require.Len(t, runs, n)
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), newSchema(t))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}

// TestClaimAfterAttemptOneWasPruned: a key whose first attempt is gone
// (retention removed it, and kept the job's latest success) is not claimed
// again as a new attempt 1: Claim's one-round-trip path for new keys looks
// for any row of the key, not only for attempt 1.
func TestClaimAfterAttemptOneWasPruned(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	s := openDSN(t, dsn)
	ctx := t.Context()
	first, claimed, err := s.Claim(ctx, "orders", t0, "a", t0, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)
	_, err = s.FinishRun(ctx, first.ID, state.Result{Status: state.Failed, ErrorClass: "retryable"}, t0.Add(time.Second))
	require.NoError(t, err)
	second, err := s.Retry(ctx, first.ID, "a", t0.Add(2*time.Second), time.Minute)
	require.NoError(t, err)
	_, err = s.FinishRun(ctx, second.ID, state.Result{Status: state.Succeeded}, t0.Add(3*time.Second))
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `DELETE FROM runs WHERE id = $1`, first.ID)
	require.NoError(t, err)

	got, claimed, err := s.Claim(ctx, "orders", t0, "b", t0.Add(time.Hour), time.Minute)
	require.NoError(t, err)
	require.False(t, claimed, "the key ran already")
	require.Equal(t, second.ID, got.ID)
	require.Equal(t, 2, got.Attempt)
}

// roundTrips counts a pool's round trips to the server: each query, and
// each batch (one pipeline).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestClaimTakesOneRoundTrip: of the replicas that fire one key, the one
// that claims it and the ones that find it claimed each spend one round
// trip: a burst of fires on several replicas costs the store as many.
func TestClaimTakesOneRoundTrip(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	a := openDSN(t, dsn) // migrates
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	var trips roundTrips
	cfg.ConnConfig.Tracer = &trips
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(t.Context()))
	b := &Store{pool: pool}
	ctx := t.Context()

	trips.n.Store(0)
	won, claimed, err := b.Claim(ctx, "orders", t0, "b", t0, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)
	require.Equal(t, 1, won.Attempt)
	require.EqualValues(t, 1, trips.n.Load(), "round trips of a claim that wins")

	theirs, claimed, err := a.Claim(ctx, "orders", t0.Add(time.Hour), "a", t0, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)
	trips.n.Store(0)
	got, claimed, err := b.Claim(ctx, "orders", t0.Add(time.Hour), "b", t0, time.Minute)
	require.NoError(t, err)
	require.False(t, claimed, "replica a holds the key")
	require.Equal(t, theirs.ID, got.ID)
	require.Equal(t, "a", got.Replica)
	require.Equal(t, state.Running, got.Status)
	require.EqualValues(t, 1, trips.n.Load(), "round trips of a claim that finds the key held")
}

// TestRunningReadsOnlyRunningAttempts: Running finds a job's Running
// attempts through the partial index runs_running, not by reading the
// job's history (the scheduler asks on every fire of an overlap: skip job
// and every lease for every job).
func TestRunningReadsOnlyRunningAttempts(t *testing.T) {
	t.Parallel()
	s := openDSN(t, newSchema(t))
	ctx := t.Context()
	_, err := s.pool.Exec(ctx, `INSERT INTO runs (id, job, scheduled_time, attempt, status, started_at, finished_at)
		SELECT 'r' || i, 'busy', $1::timestamptz + i * interval '1 minute', 1, 'succeeded', $1::timestamptz, $1::timestamptz
		FROM generate_series(1, 20000) AS i`, t0)
	require.NoError(t, err)
	running, claimed, err := s.Claim(ctx, "busy", t0, "a", t0, time.Minute)
	require.NoError(t, err)
	require.True(t, claimed)
	_, err = s.pool.Exec(ctx, `ANALYZE runs`)
	require.NoError(t, err)

	rs, err := s.pool.Query(ctx, `EXPLAIN `+runningQuery, "busy")
	require.NoError(t, err)
	var plan []string
	for rs.Next() {
		var line string
		require.NoError(t, rs.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rs.Err())
	require.Contains(t, strings.Join(plan, "\n"), "runs_running", "plan:\n%s", strings.Join(plan, "\n"))

	got, err := s.Running(ctx, "busy")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, running.ID, got[0].ID)
}
