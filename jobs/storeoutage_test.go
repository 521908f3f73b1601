package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/postgres"
)

// realOutage is a real state store that can be made to fail and brought
// back: SQLite locked by another connection, PostgreSQL stopped.
type realOutage struct {
	store state.Store
	down  func(t *testing.T) // from now on the store's writes fail
	up    func(t *testing.T) // the store answers again
}

// sqliteLocked is the bundle's SQLite store; down takes its database's
// write lock from a second connection (as another process on the file
// would) and holds it until up, so the store's writes wait out their busy
// timeout and fail with "database is locked".
func sqliteLocked(t *testing.T, b *bundle) realOutage {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(b.dir), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var conn *sql.Conn
	return realOutage{
		store: b.store,
		down: func(t *testing.T) {
			conn, err = db.Conn(context.Background())
			require.NoError(t, err)
			_, err = conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`)
			require.NoError(t, err)
		},
		up: func(t *testing.T) {
			_, err := conn.ExecContext(context.Background(), `ROLLBACK`)
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		},
	}
}

// postgresRestarted is a PostgreSQL store on a private cluster of its own,
// which down stops (fast shutdown: sessions are terminated, as in a
// restart) and up starts again on the same port.
func postgresRestarted(t *testing.T, _ *bundle) realOutage {
	t.Helper()
	c := newPrivateCluster(t)
	store, err := postgres.Open(context.Background(), c.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return realOutage{
		store: store,
		down:  func(t *testing.T) { c.ctl(t, "stop", "-m", "fast") },
		up:    func(t *testing.T) { c.start(t) },
	}
}

// privateCluster is a PostgreSQL server this test owns, so it can stop and
// start it.
type privateCluster struct {
	bin, dir, dsn string
	port          int
	asPostgres    bool // run the server's tools as the postgres user (we are root)
}

// newPrivateCluster initdbs and starts a cluster in a temporary directory on
// a free port. It skips (fails under CI) when the server binaries are not
// installed.
func newPrivateCluster(t *testing.T) *privateCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			bins = []string{p}
		}
	}
	if len(bins) == 0 {
		msg := "pg_ctl not found: the PostgreSQL restart test runs its own cluster; install the PostgreSQL server " +
			"(apt-get install postgresql) to run it"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c := &privateCluster{bin: filepath.Dir(bins[len(bins)-1]), asPostgres: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "exporter-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "initdb refuses to run as root; the test runs it as the postgres user")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	c.dir = dir
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.port = l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	c.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", c.port)
	c.run(t, "initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	c.start(t)
	t.Cleanup(func() { c.run(t, "pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop") })
	return c
}

func (c *privateCluster) run(t *testing.T, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, tool), args...)
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bin, tool)}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", tool, out)
}

func (c *privateCluster) ctl(t *testing.T, args ...string) {
	t.Helper()
	c.run(t, "pg_ctl", append([]string{"-D", filepath.Join(c.dir, "data"), "-w"}, args...)...)
}

func (c *privateCluster) start(t *testing.T) {
	t.Helper()
	c.ctl(t, "-l", filepath.Join(c.dir, "log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=30", c.port, c.dir), "start")
}

// TestRealStoreOutageLosesNoFireAndNoFinishedRun is the bar of issue 11:
// SQLite held locked past its busy timeout, and PostgreSQL restarted,
// during a fire and during a run's finish, lose neither. The store is down
// until the scheduler has seen it fail (never for a guessed time), then
// comes back; the fire is claimed and run once, and the run that finished
// while the store was down is recorded succeeded with its rows and URIs.
func TestRealStoreOutageLosesNoFireAndNoFinishedRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		outage func(t *testing.T, b *bundle) realOutage
		during string // the call the outage is seen at: "Claim" at the fire; "FinishRun" or "LastSuccess" at the finish
		format string
	}{
		{"sqlite locked at the fire", sqliteLocked, "Claim", "csv"},
		{"sqlite locked at the finish", sqliteLocked, "FinishRun", "csv"},
		{"postgres restarted at the fire", postgresRestarted, "Claim", "csv"},
		// raw: no schema check, whose read of the last success would meet
		// the outage first (retried too, but FinishRun is the point here).
		{"postgres restarted at the finish", postgresRestarted, "FinishRun", "raw\nresult_format: csv"},
		{"postgres restarted at the schema check", postgresRestarted, "LastSuccess", "csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bf := newBlinkFixture(t, 30)
			b := bf.bundle
			o := tc.outage(t, b)
			runner, log := bf.runner, bf.log
			runner.Store = o.store
			f := startConfigured(t, b, time.Date(2026, 3, 1, 6, 0, 30, 0, time.UTC), func(s *jobs.Scheduler) {
				s.Runner, s.Log, s.Replica, s.Lease = runner, log, "r0", time.Hour
				s.Jitter = func() float64 { return 0 }
			}, "source: {look_id: '42'}\nformat: "+tc.format+"\ndestination: $DIR/{{ .RunID }}.csv")
			clock := f.clock
			release := make(chan struct{})
			stalled := b.srv.StallNextRun(release, true)

			// outage takes the store down, lets the scheduler's calls fail on
			// it and retry (moving the clock through their backoffs) until
			// the call of tc.during has failed, then brings the store back and
			// moves the clock to that call's retry.
			outage := func(act func()) {
				o.down(t)
				act()
				for {
					e := bf.waits.next(t)
					call := e.ContextMap()["call"]
					if call == tc.during {
						o.up(t)
					}
					bf.waits.advance(t, clock, e)
					if call == tc.during {
						return
					}
				}
			}

			fireAt := time.Date(2026, 3, 1, 6, 1, 0, 0, time.UTC)
			clock.waitTimers(t, 2) // the job's next fire and the reaper
			if tc.during == "Claim" {
				outage(func() { clock.AdvanceTo(fireAt) })
			} else {
				clock.AdvanceTo(fireAt)
			}
			select {
			case <-stalled:
			case <-time.After(20 * time.Second):
				t.Fatal("the fire did not run")
			}
			if tc.during != "Claim" {
				outage(func() { close(release) })
			} else {
				close(release)
			}

			ctx := context.Background()
			var attempts []state.Run
			eventually(t, "the run to be recorded", func() bool {
				var err error
				attempts, err = o.store.Attempts(ctx, "joba", fireAt)
				return err == nil && len(attempts) == 1 && attempts[0].Status != state.Running
			})
			run := attempts[0]
			require.Equal(t, state.Succeeded, run.Status, run.Error)
			if tc.format == "csv" {
				require.Equal(t, int64(30), run.Rows)
			}
			require.Positive(t, run.Bytes)
			require.Len(t, run.URIs, 1)
			_, err := os.Stat(filepath.Join(b.dir, run.ID+".csv"))
			require.NoError(t, err, "the export is published")
			require.Equal(t, 1, queryRuns(b.srv), "the fire ran once")
		})
	}
}
