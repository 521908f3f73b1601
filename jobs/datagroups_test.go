package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/postgres"
)

// The datagroup tests' times: the sandbox's datagroup triggered at
// lookertest.DatagroupTriggeredAt (06:00) and the schedulers start at 07:00
// the same day, so that every triggered_at a test sets is in the
// sandbox's past. Polls and leases fall on distinct instants (47s, 100s),
// so a timer at a poll time is a poller waiting.
var dgStart = lookertest.DatagroupTriggeredAt.Add(time.Hour)

const (
	dgPoll  = 47 * time.Second
	dgLease = 100 * time.Second
)

// triggeredJob builds a validated job with no default schedule, as users
// write a job fired by its trigger alone.
func triggeredJob(t *testing.T, b *bundle, name, keys string) *config.Job {
	t.Helper()
	return b.parseJob(t, "", name, keys)
}

const dgJobYAML = `trigger: {datagroup: "thelook::orders_etl"}
source: {look_id: '42'}
format: csv
destination: '$DIR/{{ .Job }}-{{ .TriggeredAt.UTC.Format "150405" }}.csv'`

// dgFixture is schedulers (replicas) polling the sandbox's datagroups on
// one fake clock.
type dgFixture struct {
	*bundle
	clock  *fakeClock
	scheds []*jobs.Scheduler
	store  state.Store // an observer's view of the runs
	polls  int         // the polls each replica made so far
}

// startDatagroups starts one scheduler per store, each with the jobs, and
// waits for every replica's first poll.
func startDatagroups(t *testing.T, b *bundle, log *zap.Logger, stores []state.Store, js ...*config.Job) *dgFixture {
	t.Helper()
	f := &dgFixture{bundle: b, clock: newFakeClock(dgStart), store: stores[0], polls: 1}
	for i, st := range stores {
		runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: st, Log: log.Named(fmt.Sprint("r", i))}
		s := &jobs.Scheduler{Runner: runner, Clock: f.clock, Log: log.Named(fmt.Sprint("r", i)), DrainTimeout: time.Minute,
			Replica: fmt.Sprint("r", i), Lease: dgLease, Jitter: func() float64 { return 0 },
			Datagroups: b.client, DatagroupPoll: dgPoll, Jobs: js}
		f.scheds = append(f.scheds, s)
		runReplica(t, s, f.clock)
	}
	f.waitPolls(t)
	return f
}

// waitPolls waits until every replica has polled f.polls times and waits
// for the next poll.
func (f *dgFixture) waitPolls(t *testing.T) {
	t.Helper()
	next := dgStart.Add(time.Duration(f.polls) * dgPoll)
	eventually(t, fmt.Sprintf("poll %d of every replica", f.polls), func() bool {
		return f.clock.timersAt(next) >= len(f.scheds)
	})
	f.waitIdle(t)
}

// poll moves the clock to the next poll and waits for it to be done.
func (f *dgFixture) poll(t *testing.T) {
	t.Helper()
	f.clock.AdvanceTo(dgStart.Add(time.Duration(f.polls) * dgPoll))
	f.polls++
	f.waitPolls(t)
}

func (f *dgFixture) waitIdle(t *testing.T) {
	t.Helper()
	eventually(t, "runs in flight to finish", func() bool {
		for _, s := range f.scheds {
			if s.InFlight() > 0 {
				return false
			}
		}
		return true
	})
}

func (f *dgFixture) runs(t *testing.T, job string) []state.Run {
	t.Helper()
	runs, err := f.store.ListRuns(context.Background(), state.ListOptions{Job: job})
	require.NoError(t, err)
	return runs
}

// TestDatagroupTriggerFiresWhenTriggeredAtAdvances: a job with only a
// trigger does not run for the triggered_at it finds at its first poll
// (a new job missed nothing); once the datagroup triggers, the next poll
// runs it once, for that triggered_at (.TriggeredAt names the file), and
// later polls do not run it again. One GET /datagroups per poll serves
// every job.
func TestDatagroupTriggerFiresWhenTriggeredAtAdvances(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	other := triggeredJob(t, b, "other", strings.ReplaceAll(dgJobYAML, "orders_etl", "daily_rollup"))
	f := startDatagroups(t, b, b.log, []state.Store{b.store}, triggeredJob(t, b, "fresh", dgJobYAML), other)
	require.Equal(t, 1, b.srv.Requests("all_datagroups"), "one read for both jobs")
	f.poll(t)
	require.Empty(t, f.runs(t, "fresh"), "the triggered_at found at start is not run for a job that never ran")

	at := dgStart.Add(30 * time.Second) // the ETL finished
	b.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, at)
	require.Empty(t, f.runs(t, "fresh"), "nothing runs before the next poll")
	f.poll(t)
	runs := f.runs(t, "fresh")
	require.Len(t, runs, 1)
	require.Equal(t, state.Succeeded, runs[0].Status, runs[0].Error)
	require.True(t, runs[0].ScheduledTime.Equal(at), "the key is (job, triggered_at): %s", runs[0].ScheduledTime)
	require.FileExists(t, filepath.Join(b.dir, "fresh-070030.csv"))

	f.poll(t)
	f.poll(t)
	require.Len(t, f.runs(t, "fresh"), 1, "an unchanged triggered_at does not run again")
	require.Equal(t, 5, b.srv.Requests("all_datagroups"), "one read per poll")
	st, ok := f.scheds[0].TriggerStatus("fresh")
	require.True(t, ok)
	require.Equal(t, jobs.TriggerStatus{Datagroup: "thelook::orders_etl", TriggeredAt: at, CheckedAt: f.clock.Now()}, st)
}

// TestDatagroupTriggerAtStart: the first poll after a start asks the store
// which triggered_at the job last ran for.
func TestDatagroupTriggerAtStart(t *testing.T) {
	t.Parallel()
	ran := lookertest.DatagroupTriggeredAt
	for _, tc := range []struct {
		name     string
		keys     string
		advanced bool // the datagroup triggered again while the daemon was down
		want     []time.Time
	}{
		{name: "already run", want: []time.Time{ran}},
		{name: "advanced while down", advanced: true, want: []time.Time{ran.Add(30 * time.Minute), ran}},
		{name: "advanced while down, catchup none", keys: "catchup: none", advanced: true, want: []time.Time{ran}},
		{name: "advanced before catchup_window", keys: "catchup_window: 10m", advanced: true, want: []time.Time{ran}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 3)
			job := triggeredJob(t, b, "fresh", dgJobYAML+"\n"+tc.keys)
			_, err := b.run(context.Background(), job, ran, jobs.RunOptions{}) // the run before the daemon stopped
			require.NoError(t, err)
			if tc.advanced {
				b.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, ran.Add(30*time.Minute))
			}
			f := startDatagroups(t, b, b.log, []state.Store{b.store}, job)
			f.poll(t)
			var got []time.Time
			for _, r := range f.runs(t, "fresh") {
				require.Equal(t, state.Succeeded, r.Status, r.Error)
				got = append(got, r.ScheduledTime.UTC())
			}
			require.ElementsMatch(t, tc.want, got)
		})
	}
}

// TestDatagroupPollFailureFiresNothing: a read of the datagroups that
// fails (Looker down) fires nothing, is logged once and shown, and the
// next poll reads again and fires.
func TestDatagroupPollFailureFiresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	core, logs := observer.New(zapcore.InfoLevel)
	f := startDatagroups(t, b, zap.New(core), []state.Store{b.store}, triggeredJob(t, b, "fresh", dgJobYAML))

	at := dgStart.Add(30 * time.Second)
	b.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, at)
	b.srv.FailNext(lookertest.Fault{Status: http.StatusBadGateway, PathPrefix: "/datagroups", Count: 2})
	f.poll(t)
	f.poll(t)
	require.Empty(t, f.runs(t, "fresh"), "a failed read fires nothing")
	require.Equal(t, 1, logs.FilterMessageSnippet("read Looker's datagroups failed").Len(), "logged once while it keeps failing")
	st, _ := f.scheds[0].TriggerStatus("fresh")
	require.Contains(t, st.Error, "read Looker's datagroups")
	require.Contains(t, st.Error, "502")

	f.poll(t)
	runs := f.runs(t, "fresh")
	require.Len(t, runs, 1, "the next poll that reads fires")
	require.True(t, runs[0].ScheduledTime.Equal(at))
	st, _ = f.scheds[0].TriggerStatus("fresh")
	require.Empty(t, st.Error)
}

// TestDatagroupTriggerErrorIsShownNotFired: a datagroup whose trigger
// check fails in Looker (trigger_error) fires nothing; the error is logged
// once and shown. A datagroup Looker does not list is treated alike.
func TestDatagroupTriggerErrorIsShownNotFired(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	core, logs := observer.New(zapcore.InfoLevel)
	broken := triggeredJob(t, b, "broken", strings.ReplaceAll(dgJobYAML, "orders_etl", lookertest.BrokenDatagroup))
	missing := triggeredJob(t, b, "missing", strings.ReplaceAll(dgJobYAML, "orders_etl", "nope"))
	f := startDatagroups(t, b, zap.New(core), []state.Store{b.store}, broken, missing)
	f.poll(t)
	f.poll(t)
	require.Empty(t, f.runs(t, ""))
	st, ok := f.scheds[0].TriggerStatus("broken")
	require.True(t, ok)
	require.Equal(t, "the datagroup's trigger check failed in Looker: "+lookertest.BrokenDatagroupError, st.Error)
	st, _ = f.scheds[0].TriggerStatus("missing")
	require.Contains(t, st.Error, "Looker has no datagroup thelook::nope")
	require.Equal(t, 2, logs.FilterMessage("datagroup trigger not fired").Len(), "each distinct error logged once")

	b.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.BrokenDatagroup, dgStart.Add(time.Minute)) // fixed: triggers, error cleared
	f.poll(t)
	runs := f.runs(t, "broken")
	require.Len(t, runs, 1)
	require.Equal(t, state.Succeeded, runs[0].Status, runs[0].Error)
	st, _ = f.scheds[0].TriggerStatus("broken")
	require.Empty(t, st.Error)
}

// TestDatagroupTriggerFollowsReload: jobs given by Reload are polled from
// the next poll; a scheduler with no triggered job reads no datagroups.
func TestDatagroupTriggerFollowsReload(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	cron := triggeredJob(t, b, "cron", "schedule: '0 0 1 1 *'\nsource: {look_id: '42'}\nformat: csv\ndestination: $DIR/cron.csv")
	f := startDatagroups(t, b, b.log, []state.Store{b.store}, cron)
	require.Zero(t, b.srv.Requests("all_datagroups"), "no job has a trigger")

	f.scheds[0].Reload([]*config.Job{cron, triggeredJob(t, b, "fresh", dgJobYAML)})
	f.poll(t)
	require.Equal(t, 1, b.srv.Requests("all_datagroups"))
	b.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, dgStart.Add(time.Minute))
	f.poll(t)
	require.Len(t, f.runs(t, "fresh"), 1)

	f.scheds[0].Reload([]*config.Job{cron})
	_, ok := f.scheds[0].TriggerStatus("fresh")
	require.True(t, ok, "shown until the next poll")
	f.poll(t)
	_, ok = f.scheds[0].TriggerStatus("fresh")
	require.False(t, ok, "a removed job is no longer watched")
	require.Equal(t, 2, b.srv.Requests("all_datagroups"))
}

// TestReplicasRunEachDatagroupTriggerExactlyOnce: two replicas on one
// PostgreSQL store both see each triggered_at advance; each is run once.
func TestReplicasRunEachDatagroupTriggerExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	dsn := postgresDSN(t)
	var stores []state.Store
	for range 3 { // two replicas and an observer
		s, err := postgres.Open(context.Background(), dsn)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	job := triggeredJob(t, b, "shared", dgJobYAML)
	core, logs := observer.New(zapcore.InfoLevel)
	f := startDatagroups(t, b, zap.New(zapcore.NewTee(core, b.log.Core())), stores[:2], job)
	f.store = stores[2]

	var want []time.Time
	for i := range 5 {
		at := dgStart.Add(time.Duration(i+1) * dgPoll).Add(-time.Second)
		f.clock.AdvanceTo(at.Add(-time.Second)) // before the poll: fires no timer
		b.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, at)
		f.poll(t)
		want = append([]time.Time{at}, want...)
	}
	var got []time.Time
	replicas := map[string]int{}
	for _, r := range f.runs(t, "shared") {
		require.Equal(t, state.Succeeded, r.Status, r.Error)
		require.Equal(t, 1, r.Attempt)
		got = append(got, r.ScheduledTime.UTC())
		replicas[r.Replica]++
	}
	require.Equal(t, want, got, "each triggered_at run once")
	require.Equal(t, 5, queryRuns(b.srv), "Looker ran each once")
	require.Equal(t, 12, b.srv.Requests("all_datagroups"), "each replica read at start and once per poll")
	require.Equal(t, 10, logs.FilterMessage("datagroup triggered; running the job").Len(), "both replicas fired each triggered_at")
	t.Logf("runs per replica: %v", replicas)
}

// TestTriggeredRunTemplates: a run fired by a datagroup sees its
// triggered_at as .TriggeredAt; a job with only a trigger has no fire
// times, so its .PrevScheduledTime is its latest success's triggered_at.
func TestTriggeredRunTemplates(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	job := triggeredJob(t, b, "fresh", `trigger: {datagroup: "thelook::orders_etl"}
source: {look_id: '42'}
format: csv
destination: '$DIR/{{ .PrevScheduledTime.UTC.Format "150405" }}-{{ .TriggeredAt.UTC.Format "150405" }}.csv'`)
	first, second := lookertest.DatagroupTriggeredAt, lookertest.DatagroupTriggeredAt.Add(90*time.Minute)
	for _, at := range []time.Time{first, second} {
		run, err := b.run(context.Background(), job, at, jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, run.Status)
	}
	require.FileExists(t, filepath.Join(b.dir, "000000-060000.csv"), "no success before the first: zero")
	require.FileExists(t, filepath.Join(b.dir, "060000-073000.csv"))
}

// TestBackfillOfATriggeredOnlyJobSaysWhatToDo: a job with only a trigger
// has no fire times; backfill says so and how to run one triggered_at.
func TestBackfillOfATriggeredOnlyJobSaysWhatToDo(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	job := triggeredJob(t, b, "fresh", dgJobYAML)
	_, err := jobs.Backfill(context.Background(), b.runner, job, b.log, jobs.BackfillOptions{From: dgStart.Add(-48 * time.Hour), To: dgStart})
	require.ErrorContains(t, err, "backfill job fresh: it has no schedule, only a datagroup trigger (thelook::orders_etl)")
	require.ErrorContains(t, err, "exporter run fresh --at TIME")
}
