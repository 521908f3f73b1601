package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/postgres"
)

// postgresDSN returns a DSN selecting a fresh schema on the test server,
// dropped when t ends; it skips (fails under CI) when there is no server.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("EXPORTER_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		msg := "PostgreSQL is not reachable (" + err.Error() + "); to run the multi-replica tests start PostgreSQL on 127.0.0.1:5432 " +
			"(user postgres, trust auth, database test) or set EXPORTER_TEST_POSTGRES_DSN"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "jobs_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// killable is a replica's store that can die: after kill every call fails,
// as when the process is gone or cut off from the database.
type killable struct {
	state.Store
	dead atomic.Bool
}

var errDead = errors.New("replica is dead")

func (k *killable) check() error {
	if k.dead.Load() {
		return errDead
	}
	return nil
}

func (k *killable) Claim(ctx context.Context, job string, at time.Time, replica string, now time.Time, lease time.Duration) (state.Run, bool, error) {
	if err := k.check(); err != nil {
		return state.Run{}, false, err
	}
	return k.Store.Claim(ctx, job, at, replica, now, lease)
}

func (k *killable) RenewLease(ctx context.Context, id, replica string, now time.Time, lease time.Duration) error {
	if err := k.check(); err != nil {
		return err
	}
	return k.Store.RenewLease(ctx, id, replica, now, lease)
}

func (k *killable) FinishRun(ctx context.Context, id string, res state.Result, now time.Time) (state.Run, error) {
	if err := k.check(); err != nil {
		return state.Run{}, err
	}
	return k.Store.FinishRun(ctx, id, res, now)
}

func (k *killable) Retry(ctx context.Context, id, replica string, now time.Time, lease time.Duration) (state.Run, error) {
	if err := k.check(); err != nil {
		return state.Run{}, err
	}
	return k.Store.Retry(ctx, id, replica, now, lease)
}

func (k *killable) ListRuns(ctx context.Context, opts state.ListOptions) ([]state.Run, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	return k.Store.ListRuns(ctx, opts)
}

func (k *killable) SaveRunLog(ctx context.Context, id string, lines []state.LogLine) error {
	if err := k.check(); err != nil {
		return err
	}
	return k.Store.SaveRunLog(ctx, id, lines)
}

type replicaSet struct {
	*bundle
	clock  *fakeClock
	stores []*killable
	scheds []*jobs.Scheduler
	shared state.Store // an observer's view of the database
}

// startReplicas starts n schedulers, each with its own connection pool to
// one PostgreSQL schema, sharing the Looker sandbox, the output directory
// and a fake clock.
func startReplicas(t *testing.T, n int, start time.Time, lease time.Duration, jobYAML string) *replicaSet {
	t.Helper()
	return startReplicasWith(t, n, start, lease, jobYAML, func(*jobs.Scheduler) {})
}

// startReplicasWith is startReplicas with configure applied to each
// scheduler before it runs.
func startReplicasWith(t *testing.T, n int, start time.Time, lease time.Duration, jobYAML string, configure func(*jobs.Scheduler)) *replicaSet {
	t.Helper()
	b := setup(t, 3)
	dsn := postgresDSN(t)
	rs := &replicaSet{bundle: b, clock: newFakeClock(start)}
	open := func() state.Store {
		s, err := postgres.Open(context.Background(), dsn)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	rs.shared = open()
	for i := range n {
		k := &killable{Store: open()}
		rs.stores = append(rs.stores, k)
		runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: k, Log: b.log.Named(fmt.Sprint("r", i))}
		_ = localfs.New // the runner shares the bundle's sinks
		s := &jobs.Scheduler{Runner: runner, Clock: rs.clock, Log: b.log.Named(fmt.Sprint("r", i)), DrainTimeout: time.Minute,
			Replica: fmt.Sprint("r", i), Lease: lease, Jitter: func() float64 { return 0 }}
		s.Jobs = append(s.Jobs, b.job(t, "shared", jobYAML))
		configure(s)
		rs.scheds = append(rs.scheds, s)
		runReplica(t, s, rs.clock)
	}
	return rs
}

// runReplica runs s until t ends; then it stops s, moving clock past any
// drain timeout.
func runReplica(t *testing.T, s *jobs.Scheduler, clock *fakeClock) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				clock.Advance(time.Minute) // past any drain timeout
			}
		}
	})
}

// waitIdle waits until no replica but skip (-1: none) has a run in flight.
func (rs *replicaSet) waitIdle(t *testing.T, skip int) {
	t.Helper()
	eventually(t, "runs in flight to finish", func() bool {
		for i, s := range rs.scheds {
			if i != skip && s.InFlight() > 0 {
				return false
			}
		}
		return true
	})
}

// timersAt counts the pending timers at exactly at.
func (c *fakeClock) timersAt(at time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ft := range c.timers {
		if ft.at.Equal(at) {
			n++
		}
	}
	return n
}

func TestReplicasRunEachFireExactlyOnce(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	// A lease of 60.5s puts no lease or reaper timer at a fire time, so
	// three timers at a fire time are the three loops waiting for it.
	rs := startReplicas(t, 3, start, 60500*time.Millisecond,
		"schedule: '*/3 * * * * *'\noverlap: allow\ncatchup: none\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"150405\" }}.csv'")
	const fires = 120
	at := start
	for range fires {
		at = at.Add(3 * time.Second)
		eventually(t, "every replica waiting for "+at.Format(time.TimeOnly), func() bool { return rs.clock.timersAt(at) >= 3 })
		rs.clock.AdvanceTo(at)
		// Fake time must not outrun the runs, or leases expire under them.
		rs.waitIdle(t, -1)
	}
	ctx := context.Background()
	eventually(t, "every fire run", func() bool {
		runs, err := rs.shared.ListRuns(ctx, state.ListOptions{Job: "shared", Limit: 1000})
		require.NoError(t, err)
		succeeded := 0
		for _, r := range runs {
			if r.Status == state.Succeeded {
				succeeded++
			}
		}
		if succeeded != fires {
			t.Logf("succeeded %d of %d runs", succeeded, len(runs))
		}
		return succeeded == fires
	})
	runs, err := rs.shared.ListRuns(ctx, state.ListOptions{Job: "shared", Limit: 1000})
	require.NoError(t, err)
	require.Len(t, runs, fires, "one attempt per fire, no more")
	seen := map[time.Time]bool{}
	replicas := map[string]int{}
	for _, r := range runs {
		require.Equal(t, 1, r.Attempt)
		require.False(t, seen[r.ScheduledTime], "%s ran twice", r.ScheduledTime)
		seen[r.ScheduledTime] = true
		replicas[r.Replica]++
	}
	require.Equal(t, fires, queryRuns(rs.srv), "Looker ran each fire once")
	csvs := 0
	for _, f := range rs.localFiles(t) {
		if strings.HasSuffix(f, ".csv") {
			csvs++
		}
	}
	require.Equal(t, fires, csvs, "one file per fire")
	t.Logf("runs per replica: %v", replicas)
}

func TestReplicaTakesOverTheRunOfADeadReplica(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 6, 59, 0, 0, time.UTC)
	const lease = 30 * time.Second
	rs := startReplicas(t, 3, start, lease,
		"schedule: '0 7 * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"2006-01-02\" }}.csv'")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	arrived := rs.srv.StallNextRun(release, false)
	fire := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	eventually(t, "every replica waiting for 07:00", func() bool { return rs.clock.timersAt(fire) >= 3 })
	rs.clock.AdvanceTo(fire)
	<-arrived

	ctx := context.Background()
	var first state.Run
	eventually(t, "the claim", func() bool {
		a, err := rs.shared.Attempts(ctx, "shared", fire)
		require.NoError(t, err)
		if len(a) == 1 {
			first = a[0]
		}
		return len(a) == 1
	})
	require.Equal(t, state.Running, first.Status)
	holder := -1
	for i := range rs.scheds {
		if rs.scheds[i].Replica == first.Replica {
			holder = i
		}
	}
	require.NotEqual(t, -1, holder)
	rs.stores[holder].dead.Store(true) // the replica holding the run dies

	// Time passes, past the lease and two reaper periods; the others
	// notice the expired lease and one takes over. The clock stops there:
	// each live reaper's last tick then sees the lease expired, however
	// late its goroutine runs.
	for end := fire.Add(2*lease + 10*time.Second); rs.clock.Now().Before(end); {
		rs.clock.Advance(10 * time.Second)
		rs.waitIdle(t, holder) // a run taken over finishes before time moves on
	}
	var attempts []state.Run
	eventually(t, "another replica to take the run over", func() bool {
		a, err := rs.shared.Attempts(ctx, "shared", fire)
		require.NoError(t, err)
		attempts = a
		return len(a) == 2 && a[1].Status == state.Succeeded
	})
	require.Equal(t, state.Interrupted, attempts[0].Status)
	require.Equal(t, state.ClassLeaseExpired, attempts[0].ErrorClass)
	require.Equal(t, first.Replica, attempts[0].Replica)
	require.NotEqual(t, first.Replica, attempts[1].Replica)
	require.Equal(t, 2, attempts[1].Attempt)
	require.True(t, attempts[1].ScheduledTime.Equal(fire))
	require.FileExists(t, rs.dir+"/2026-11-27.csv", "the new attempt writes the same name")
	require.Equal(t, 2, queryRuns(rs.srv))
}

// TestBusyReplicaLeavesFiresToAReplicaWithRoom pins that a replica whose
// run slots (max_concurrent_runs) are all taken does not claim a fire: the
// replica with room claims and runs it, so a burst is split by how fast
// each replica runs rather than by which claims first.
func TestBusyReplicaLeavesFiresToAReplicaWithRoom(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 6, 59, 30, 0, time.UTC)
	rs := startReplicasWith(t, 2, start, 10*time.Minute,
		"schedule: '* * * * *'\noverlap: allow\ncatchup: none\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"1504\" }}.csv'",
		func(s *jobs.Scheduler) { s.MaxConcurrentRuns = 1 })
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free)
	arrived := rs.srv.StallNextRun(release, false)
	fire := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	eventually(t, "both replicas waiting for 07:00", func() bool { return rs.clock.timersAt(fire) >= 2 })
	rs.clock.AdvanceTo(fire)
	<-arrived // one replica's only slot is taken until release

	ctx := context.Background()
	var busy string
	eventually(t, "the claim of 07:00", func() bool {
		a, err := rs.shared.Attempts(ctx, "shared", fire)
		require.NoError(t, err)
		if len(a) == 1 {
			busy = a[0].Replica
		}
		return len(a) == 1
	})
	busyIdx := 0
	if rs.scheds[1].Replica == busy {
		busyIdx = 1
	}
	const later = 5
	for i := 1; i <= later; i++ {
		at := fire.Add(time.Duration(i) * time.Minute)
		eventually(t, "both replicas waiting for "+at.Format(time.TimeOnly), func() bool { return rs.clock.timersAt(at) >= 2 })
		rs.clock.AdvanceTo(at)
		eventually(t, "the run of "+at.Format(time.TimeOnly), func() bool {
			a, err := rs.shared.Attempts(ctx, "shared", at)
			require.NoError(t, err)
			return len(a) == 1 && a[0].Status == state.Succeeded
		})
		rs.waitIdle(t, busyIdx)
	}
	free()
	rs.waitIdle(t, -1)
	runs, err := rs.shared.ListRuns(ctx, state.ListOptions{Job: "shared", Limit: 100})
	require.NoError(t, err)
	require.Len(t, runs, 1+later, "one attempt per fire")
	for _, r := range runs {
		require.Equal(t, state.Succeeded, r.Status)
		if r.ScheduledTime.Equal(fire) {
			require.Equal(t, busy, r.Replica)
		} else {
			require.NotEqual(t, busy, r.Replica, "the busy replica claimed the fire of %s", r.ScheduledTime.Format(time.TimeOnly))
		}
	}
}
