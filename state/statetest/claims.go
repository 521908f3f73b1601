package statetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
)

// runClaims covers claims, leases, retries, retention, logs and the
// lookups the scheduler makes.
func runClaims(t *testing.T, setup func(t *testing.T) (context.Context, Store)) {
	const lease = 30 * time.Second

	t.Run("ClaimOnce", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, ok, err := s.Claim(ctx, "daily", base, "replica-a", base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, state.Run{
			ID: r.ID, Job: "daily", ScheduledTime: us(base), Attempt: 1, Status: state.Running,
			StartedAt: us(base), Replica: "replica-a", LeaseExpires: us(base.Add(lease)),
		}, r)
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got, "GetRun returns what Claim returned")

		// Another replica, while the lease lives: not claimed, the holder's attempt comes back.
		again, ok, err := s.Claim(ctx, "daily", base.In(est), "replica-b", base.Add(lease-time.Microsecond), lease)
		require.NoError(t, err)
		require.False(t, ok)
		require.Equal(t, r, again)

		// Finished: never claimed again, whatever the time.
		_, err = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded}, base.Add(time.Second))
		require.NoError(t, err)
		again, ok, err = s.Claim(ctx, "daily", base, "replica-b", base.Add(time.Hour), lease)
		require.NoError(t, err)
		require.False(t, ok)
		require.Equal(t, r.ID, again.ID)
		require.Equal(t, state.Succeeded, again.Status)
		require.True(t, again.LeaseExpires.IsZero(), "a finished attempt holds no lease")

		// A failed attempt is not claimed either: retries go through Retry.
		f, ok, err := s.Claim(ctx, "daily", base.Add(time.Hour), "replica-a", base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = s.FinishRun(ctx, f.ID, state.Result{Status: state.Failed, ErrorClass: "retryable"}, base)
		require.NoError(t, err)
		_, ok, err = s.Claim(ctx, "daily", base.Add(time.Hour), "replica-b", base.Add(time.Hour), lease)
		require.NoError(t, err)
		require.False(t, ok)

		_, _, err = s.Claim(ctx, "", base, "replica-a", base, lease)
		require.Error(t, err)
		_, _, err = s.Claim(ctx, "daily", base, "replica-a", base, 0)
		require.Error(t, err)
	})

	t.Run("ConcurrentClaimOneWins", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		const n = 12
		runs := make([]state.Run, n)
		oks := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				runs[i], oks[i], errs[i] = s.Claim(ctx, "contended", base, fmt.Sprintf("replica-%d", i), base, lease)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i := range n {
			require.NoError(t, errs[i])
			if oks[i] {
				require.Equal(t, -1, winner, "claimed twice")
				winner = i
			}
		}
		require.NotEqual(t, -1, winner)
		for i := range n {
			require.Equal(t, runs[winner].ID, runs[i].ID, "every loser sees the winner's attempt")
		}
		all, err := s.Attempts(ctx, "contended", base)
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.Equal(t, fmt.Sprintf("replica-%d", winner), all[0].Replica)
	})

	t.Run("ClaimTakesOverExpiredLease", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		first, ok, err := s.Claim(ctx, "daily", base, "a", base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		// Renewed once, then the replica dies.
		require.NoError(t, s.RenewLease(ctx, first.ID, "a", base.Add(20*time.Second), lease))
		_, ok, err = s.Claim(ctx, "daily", base, "b", base.Add(40*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok, "the renewed lease still holds")

		takeover := base.Add(50 * time.Second)
		second, ok, err := s.Claim(ctx, "daily", base, "b", takeover, lease)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, 2, second.Attempt)
		require.Equal(t, "b", second.Replica)
		require.Equal(t, us(base), second.ScheduledTime)

		old, err := s.GetRun(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, state.Interrupted, old.Status)
		require.Equal(t, state.ClassLeaseExpired, old.ErrorClass)
		require.Contains(t, old.Error, `"a"`)
		require.Equal(t, us(takeover), old.FinishedAt)

		// The old holder finds out: its lease and its outcome are refused.
		require.ErrorIs(t, s.RenewLease(ctx, first.ID, "a", takeover, lease), state.ErrLeaseLost)
		_, err = s.FinishRun(ctx, first.ID, state.Result{Status: state.Succeeded}, takeover)
		require.ErrorIs(t, err, state.ErrNotRunning)
		// Another replica cannot renew the new holder's lease.
		require.ErrorIs(t, s.RenewLease(ctx, second.ID, "a", takeover, lease), state.ErrLeaseLost)
		require.NoError(t, s.RenewLease(ctx, second.ID, "b", takeover, lease))
		require.ErrorIs(t, s.RenewLease(ctx, "0190a4c2-0000-7000-8000-000000000000", "b", takeover, lease), state.ErrNotFound)

		// StartRun attempts hold no lease: they count as holding one from
		// their start, so a dead process's attempt does not hold its key for ever.
		m, err := s.StartRun(ctx, "manual", base, base)
		require.NoError(t, err)
		_, ok, err = s.Claim(ctx, "manual", base, "b", base.Add(lease-time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok, "within a lease of its start")
		took, ok, err := s.Claim(ctx, "manual", base, "b", base.Add(lease), lease)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, 2, took.Attempt)
		got, err := s.GetRun(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, state.Interrupted, got.Status)
		require.Equal(t, state.ClassLeaseExpired, got.ErrorClass)
		require.Contains(t, got.Error, "without a lease")
	})

	t.Run("Retry", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		first, ok, err := s.Claim(ctx, "daily", base, "a", base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = s.Retry(ctx, first.ID, "a", base, lease)
		require.ErrorIs(t, err, state.ErrStillRunning)
		_, err = s.FinishRun(ctx, first.ID, state.Result{Status: state.Failed, ErrorClass: "retryable"}, base.Add(time.Second))
		require.NoError(t, err)

		second, err := s.Retry(ctx, first.ID, "a", base.Add(time.Minute), lease)
		require.NoError(t, err)
		require.Equal(t, 2, second.Attempt)
		require.Equal(t, state.Running, second.Status)
		require.Equal(t, us(base.Add(time.Minute+lease)), second.LeaseExpires)
		_, err = s.Retry(ctx, first.ID, "b", base.Add(time.Minute), lease)
		require.ErrorIs(t, err, state.ErrNotLatest, "a second retry of the same attempt is refused")
		_, err = s.Retry(ctx, "0190a4c2-0000-7000-8000-000000000000", "a", base, lease)
		require.ErrorIs(t, err, state.ErrNotFound)

		all, err := s.Attempts(ctx, "daily", base.In(est))
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, []int{1, 2}, []int{all[0].Attempt, all[1].Attempt})
		none, err := s.Attempts(ctx, "daily", base.Add(time.Hour))
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("ResultSchemaAndQueryIDs", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, ok, err := s.Claim(ctx, "daily", base, "a", base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		schema := `{"fields":[{"name":"orders_id","type":"INT64"},{"name":"städte","type":"STRING"}]}`
		_, err = s.FinishRun(ctx, r.ID, state.Result{
			Status: state.Succeeded, Rows: 2, QueryIDs: []string{"101", "slug-ab"}, Schema: schema,
		}, base.Add(time.Second))
		require.NoError(t, err)
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, schema, got.Schema)
		require.Equal(t, []string{"101", "slug-ab"}, got.QueryIDs)
		require.Equal(t, "a", got.Replica)
		require.True(t, got.LeaseExpires.IsZero())
	})

	// A job with when: changed compares the digest of its rows with the
	// last published run's: the digest is stored with every finished
	// attempt, and a skipped attempt's does not become the baseline.
	t.Run("ContentHash", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		finish := func(sched time.Duration, res state.Result) state.Run {
			return claimAndFinish(ctx, t, s, base.Add(sched), res)
		}
		published := finish(time.Hour, state.Result{Status: state.Succeeded, Rows: 3, ContentHash: "rows-v1:aa11"})
		require.Equal(t, "rows-v1:aa11", published.ContentHash)
		skipped := finish(2*time.Hour, state.Result{Status: state.Skipped, ErrorClass: "condition", Error: "when: changed: same content", ContentHash: "rows-v1:aa11"})
		require.Equal(t, "rows-v1:aa11", skipped.ContentHash)
		failed := finish(3*time.Hour, state.Result{Status: state.Failed, ErrorClass: "permanent", Error: "x"})
		require.Empty(t, failed.ContentHash, "no digest: none recorded")

		last, err := s.LastSuccess(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, published, last, "the baseline is the last published run, with its digest")
		runs, err := s.ListRuns(ctx, state.ListOptions{Job: "daily"})
		require.NoError(t, err)
		require.Equal(t, []state.Run{failed, skipped, published}, runs)
	})

	// Staleness counts a run skipped by its send condition as a fresh
	// check; a fire skipped for overlap, or a failure, is not one.
	t.Run("LastChecked", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		_, err := s.LastChecked(ctx, "daily")
		require.ErrorIs(t, err, state.ErrNotFound)
		finish := func(sched time.Duration, res state.Result) state.Run {
			return claimAndFinish(ctx, t, s, base.Add(sched), res)
		}
		published := finish(time.Hour, state.Result{Status: state.Succeeded})
		got, err := s.LastChecked(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, published, got)
		checked := finish(2*time.Hour, state.Result{Status: state.Skipped, ErrorClass: state.ClassCondition, Error: "when: results: the result has no rows"})
		overlap := finish(3*time.Hour, state.Result{Status: state.Skipped, Error: "skipped: the previous run of the job was still in flight (overlap: skip)"})
		failed := finish(4*time.Hour, state.Result{Status: state.Failed, ErrorClass: "permanent"})
		for _, r := range []state.Run{published, checked} {
			require.True(t, r.Checked(), r.Error)
		}
		for _, r := range []state.Run{overlap, failed} {
			require.False(t, r.Checked(), r.Error)
		}

		got, err = s.LastChecked(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, checked, got)
		got, err = s.LastSuccess(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, published, got, "LastSuccess stays the last published run")
		_, err = s.LastChecked(ctx, "other")
		require.ErrorIs(t, err, state.ErrNotFound)
	})

	t.Run("LastSuccessAndLatestScheduled", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		_, err := s.LastSuccess(ctx, "daily")
		require.ErrorIs(t, err, state.ErrNotFound)
		_, err = s.LatestScheduled(ctx, "daily")
		require.ErrorIs(t, err, state.ErrNotFound)

		finish := func(sched time.Duration, st state.Status) state.Run {
			r, err := s.StartRun(ctx, "daily", base.Add(sched), base)
			require.NoError(t, err)
			if st != state.Running {
				_, err = s.FinishRun(ctx, r.ID, state.Result{Status: st, Schema: string(st)}, base)
				require.NoError(t, err)
			}
			got, err := s.GetRun(ctx, r.ID)
			require.NoError(t, err)
			return got
		}
		finish(time.Hour, state.Succeeded)
		want := finish(2*time.Hour, state.Succeeded) // started before an older key: order is by scheduled time
		finish(time.Hour, state.Succeeded)
		finish(3*time.Hour, state.Failed)
		latest := finish(3*time.Hour, state.Running)
		_, err = s.StartRun(ctx, "other", base.Add(9*time.Hour), base)
		require.NoError(t, err)

		got, err := s.LastSuccess(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, "succeeded", got.Schema, "the run carries its schema")
		got, err = s.LatestScheduled(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, latest, got)
	})

	t.Run("Running", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		got, err := s.Running(ctx, "daily")
		require.NoError(t, err)
		require.NotNil(t, got, "none is an empty slice")
		require.Empty(t, got)

		older, claimed, err := s.Claim(ctx, "daily", base.Add(time.Hour), "a", base, time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		claimAndFinish(ctx, t, s, base.Add(2*time.Hour), state.Result{Status: state.Succeeded})
		claimAndFinish(ctx, t, s, base.Add(3*time.Hour), state.Result{Status: state.Skipped})
		leaseless, err := s.StartRun(ctx, "daily", base.Add(4*time.Hour), base) // an attempt from before claims
		require.NoError(t, err)
		newest, claimed, err := s.Claim(ctx, "daily", base.Add(5*time.Hour), "b", base.Add(time.Hour), time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		_, err = s.StartRun(ctx, "other", base.Add(6*time.Hour), base)
		require.NoError(t, err)
		want := make([]state.Run, 0, 3)
		for _, id := range []string{newest.ID, leaseless.ID, older.ID} {
			r, err := s.GetRun(ctx, id)
			require.NoError(t, err)
			want = append(want, r)
		}

		got, err = s.Running(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, want, got, "every Running attempt of the job, expired leases included, newest scheduled first")

		_, err = s.FinishRun(ctx, newest.ID, state.Result{Status: state.Failed, Error: "x"}, base.Add(time.Hour))
		require.NoError(t, err)
		got, err = s.Running(ctx, "daily")
		require.NoError(t, err)
		require.Equal(t, want[1:], got, "a finished attempt is no longer listed")
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		type made struct {
			run  state.Run
			kept bool
		}
		var runs []made
		add := func(job string, sched time.Duration, st state.Status, finished time.Duration, kept bool) {
			r, err := s.StartRun(ctx, job, base.Add(sched), base)
			require.NoError(t, err)
			if st != state.Running {
				_, err = s.FinishRun(ctx, r.ID, state.Result{Status: st}, base.Add(finished))
				require.NoError(t, err)
			}
			runs = append(runs, made{r, kept})
		}
		cutoff := base.Add(10 * time.Hour)
		add("a", 1*time.Hour, state.Succeeded, 1*time.Hour, false)
		add("a", 2*time.Hour, state.Succeeded, 2*time.Hour, true) // a's latest success
		add("a", 3*time.Hour, state.Failed, 3*time.Hour, false)
		add("a", 4*time.Hour, state.Running, 0, true)
		add("a", 5*time.Hour, state.Failed, 11*time.Hour, true) // finished after the cutoff
		add("b", 1*time.Hour, state.Failed, 1*time.Hour, false) // b never succeeded
		add("b", 2*time.Hour, state.Skipped, 1*time.Hour, false)
		r, _, err := s.Claim(ctx, "c", base, "x", base, lease)
		require.NoError(t, err)
		runs = append(runs, made{r, true})
		require.NoError(t, s.SaveRunLog(ctx, runs[0].run.ID, []state.LogLine{{Time: base, Level: "info", Message: "x", Fields: "{}"}}))

		n, err := s.Prune(ctx, cutoff)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		for i, m := range runs {
			_, err := s.GetRun(ctx, m.run.ID)
			if m.kept {
				require.NoError(t, err, "run %d kept", i)
			} else {
				require.ErrorIs(t, err, state.ErrNotFound, "run %d pruned", i)
			}
		}
		_, err = s.RunLog(ctx, runs[0].run.ID)
		require.ErrorIs(t, err, state.ErrNotFound, "a pruned run's log goes with it")
		n, err = s.Prune(ctx, cutoff)
		require.NoError(t, err)
		require.Zero(t, n, "pruning again deletes nothing")
	})

	t.Run("RunLog", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)
		got, err := s.RunLog(ctx, r.ID)
		require.NoError(t, err)
		require.Empty(t, got)

		lines := []state.LogLine{
			{Time: base.In(est), Level: "info", Message: "run started", Fields: `{"job":"daily","attempt":1}`},
			{Time: base.Add(time.Second), Level: "warn", Message: "Looker busy — réessai", Fields: `{"status":429}`},
			{Time: base.Add(2 * time.Second), Level: "error", Message: "body \xff\x00end", Fields: `{}`},
		}
		require.NoError(t, s.SaveRunLog(ctx, r.ID, lines))
		got, err = s.RunLog(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, []state.LogLine{
			{Time: us(base), Level: "info", Message: "run started", Fields: `{"job":"daily","attempt":1}`},
			{Time: us(base.Add(time.Second)), Level: "warn", Message: "Looker busy — réessai", Fields: `{"status":429}`},
			{Time: us(base.Add(2 * time.Second)), Level: "error", Message: "body \uFFFDend", Fields: `{}`},
		}, got)

		// Replaced, not appended; an empty Fields reads back as an empty object.
		require.NoError(t, s.SaveRunLog(ctx, r.ID, []state.LogLine{{Time: base, Level: "info", Message: "only"}}))
		got, err = s.RunLog(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, []state.LogLine{{Time: us(base), Level: "info", Message: "only", Fields: "{}"}}, got)
		require.NoError(t, s.SaveRunLog(ctx, r.ID, nil))
		got, err = s.RunLog(ctx, r.ID)
		require.NoError(t, err)
		require.Empty(t, got)

		unknown := "0190a4c2-0000-7000-8000-000000000000"
		require.ErrorIs(t, s.SaveRunLog(ctx, unknown, lines), state.ErrNotFound)
		_, err = s.RunLog(ctx, unknown)
		require.ErrorIs(t, err, state.ErrNotFound)
	})

	t.Run("FinishRunStoresTheLog", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, _, err := s.Claim(ctx, "daily", base, "a", base, time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.SaveRunLog(ctx, r.ID, []state.LogLine{
			{Time: base, Level: "info", Message: "saved before"},
			{Time: base, Level: "info", Message: "and replaced"},
			{Time: base, Level: "info", Message: "line by line"},
		}))
		lines := []state.LogLine{
			{Time: base.In(est), Level: "info", Message: "run started", Fields: `{"job":"daily"}`},
			{Time: base.Add(time.Second), Level: "error", Message: "body \xff\x00end"},
		}
		done, err := s.FinishRun(ctx, r.ID, state.Result{Status: state.Failed, Error: "x", Log: lines}, base.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, state.Failed, done.Status)
		want := []state.LogLine{
			{Time: us(base), Level: "info", Message: "run started", Fields: `{"job":"daily"}`},
			{Time: us(base.Add(time.Second)), Level: "error", Message: "body \uFFFDend", Fields: "{}"},
		}
		got, err := s.RunLog(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "the log is replaced with the outcome")

		// A finish that is refused stores no log either.
		_, err = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded, Log: []state.LogLine{{Time: base, Level: "info", Message: "late"}}}, base.Add(time.Hour))
		require.ErrorIs(t, err, state.ErrNotRunning)
		got, err = s.RunLog(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "a refused finish leaves the log alone")
		_, err = s.FinishRun(ctx, "0190a4c2-0000-7000-8000-000000000000", state.Result{Status: state.Succeeded, Log: lines}, base)
		require.ErrorIs(t, err, state.ErrNotFound)

		// Without Log the stored lines stay.
		r2, _, err := s.Claim(ctx, "daily", base.Add(time.Hour), "a", base, time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.SaveRunLog(ctx, r2.ID, lines[:1]))
		_, err = s.FinishRun(ctx, r2.ID, state.Result{Status: state.Succeeded}, base.Add(time.Hour))
		require.NoError(t, err)
		got, err = s.RunLog(ctx, r2.ID)
		require.NoError(t, err)
		require.Equal(t, want[:1], got)

		// An empty, non-nil Log empties it.
		r3, _, err := s.Claim(ctx, "daily", base.Add(2*time.Hour), "a", base, time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.SaveRunLog(ctx, r3.ID, lines))
		_, err = s.FinishRun(ctx, r3.ID, state.Result{Status: state.Succeeded, Log: []state.LogLine{}}, base.Add(2*time.Hour))
		require.NoError(t, err)
		got, err = s.RunLog(ctx, r3.ID)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

// claimAndFinish claims job "daily" at sched for replica "a" and finishes
// it with res at sched; it returns the run as stored.
func claimAndFinish(ctx context.Context, t *testing.T, s Store, sched time.Time, res state.Result) state.Run {
	t.Helper()
	r, ok, err := s.Claim(ctx, "daily", sched, "a", sched, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.FinishRun(ctx, r.ID, res, sched)
	require.NoError(t, err)
	got, err := s.GetRun(ctx, r.ID)
	require.NoError(t, err)
	return got
}
