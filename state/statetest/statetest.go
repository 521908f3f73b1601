// Package statetest is the conformance suite every Store passes.
//
// An implementation's tests call Run with a constructor that returns a fresh,
// empty store per call (and closes it in t.Cleanup):
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) Store { return newTestStore(t) })
//	}
//
// The subtests run in parallel, each on its own store, and never read the
// wall clock: every time they pass is fixed, so results are reproducible.
//
// A Store that several processes may share (replicas) also passes
// RunShared, with a constructor of several stores on one fresh database.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
)

// base is the fixed instant the suite builds its times from. It carries
// nanoseconds so that microsecond truncation is exercised everywhere.
var base = time.Date(2025, time.March, 9, 1, 30, 0, 123456789, time.UTC)

// est is a non-UTC location that needs no tzdata.
var est = time.FixedZone("EST", -5*60*60)

// us is what a store must return for t: the same instant, in UTC, truncated
// to microseconds.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// Store is a state.Store under test. StartRun, outside state.Store (every
// run starts by a claim), writes a Running attempt without a lease, as
// exporter versions before claims did: the suite checks that claims take
// such attempts over, and that attempt numbers stay distinct under
// contention.
type Store interface {
	state.Store
	StartRun(ctx context.Context, job string, scheduled time.Time, now time.Time) (state.Run, error)
}

// Run runs the conformance suite against stores built by newStore. newStore
// must return a fresh, empty store that is closed when t ends.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	setup := func(t *testing.T) (context.Context, Store) {
		t.Helper()
		s := newStore(t)
		require.NotNil(t, s, "newStore returned nil")
		return t.Context(), s
	}
	runClaims(t, setup)
	runSlots(t, setup)

	t.Run("StartRunAssignsAttempts", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		sched := base
		other := base.Add(time.Hour)
		steps := []struct {
			job   string
			sched time.Time
			want  int
		}{
			{"daily", sched, 1},
			{"daily", sched, 2},
			{"daily", other, 1},
			{"hourly", sched, 1},
			{"daily", sched, 3},
			{"hourly", sched, 2},
			{"daily", other, 2},
		}
		for i, st := range steps {
			r, err := s.StartRun(ctx, st.job, st.sched, base.Add(time.Duration(i)*time.Second))
			require.NoError(t, err, "step %d", i)
			require.Equal(t, st.want, r.Attempt, "step %d: %s at %s", i, st.job, st.sched)
		}
	})

	t.Run("StartRunReturnsRunningAttempt", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		sched := base.Add(-time.Minute)
		now := base.In(est) // non-UTC and with nanoseconds
		r, err := s.StartRun(ctx, "daily", sched, now)
		require.NoError(t, err)
		require.NotEmpty(t, r.ID)
		want := state.Run{
			ID:            r.ID,
			Job:           "daily",
			ScheduledTime: us(sched),
			Attempt:       1,
			Status:        state.Running,
			StartedAt:     us(now),
		}
		require.Equal(t, want, r)
		require.Equal(t, time.UTC, r.StartedAt.Location())
		require.Equal(t, time.UTC, r.ScheduledTime.Location())
		require.True(t, r.FinishedAt.IsZero())

		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "GetRun returns what StartRun returned")
	})

	t.Run("StartRunIDsAreUniqueAndSortByCreation", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		var ids []string
		for i := range 50 {
			// Same key, same now: nothing but creation order tells them apart.
			r, err := s.StartRun(ctx, fmt.Sprintf("job-%d", i%3), base, base)
			require.NoError(t, err)
			ids = append(ids, r.ID)
		}
		require.True(t, sort.StringsAreSorted(ids), "IDs sort by creation: %v", ids)
		seen := map[string]bool{}
		for _, id := range ids {
			require.False(t, seen[id], "duplicate ID %s", id)
			seen[id] = true
		}
	})

	t.Run("StartRunRejectsEmptyJob", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		_, err := s.StartRun(ctx, "", base, base)
		require.Error(t, err)
		runs, err := s.ListRuns(ctx, state.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, runs)
	})

	t.Run("FinishRunStoresResult", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		tests := []struct {
			name     string
			res      state.Result
			wantURIs []string
			// wantError is the stored error text when it differs from res.Error.
			wantError string
		}{
			{
				name: "succeeded with objects",
				res: state.Result{
					Status: state.Succeeded, Rows: 1234567890123, Bytes: 9876543210,
					URIs: []string{"gs://bucket/a/part-000.csv.gz", "gs://bucket/a/part-001.csv.gz"},
				},
				wantURIs: []string{"gs://bucket/a/part-000.csv.gz", "gs://bucket/a/part-001.csv.gz"},
			},
			{
				name:     "succeeded with unicode object name",
				res:      state.Result{Status: state.Succeeded, Rows: 1, Bytes: 2, URIs: []string{"file:///exports/ventes-été/北京.jsonl"}},
				wantURIs: []string{"file:///exports/ventes-été/北京.jsonl"},
			},
			{
				name: "succeeded with empty URIs",
				res:  state.Result{Status: state.Succeeded, URIs: []string{}},
			},
			{
				name: "skipped with nil URIs",
				res:  state.Result{Status: state.Skipped},
			},
			{
				name: "failed with unicode error",
				res: state.Result{
					Status: state.Failed, Rows: 10, Bytes: 100, ErrorClass: "permanent",
					Error: `run look 42: Looker said 400 "Ungültige Abfrage" — 查询无效 🚫; check the look's fields`,
				},
			},
			{
				name:      "failed with invalid UTF-8 and NUL in error",
				res:       state.Result{Status: state.Failed, ErrorClass: "permanent", Error: "body: \xff\xfe ok\x00 end"},
				wantError: "body: \uFFFD ok end",
			},
			{
				name: "interrupted with partial output",
				res: state.Result{
					Status: state.Interrupted, Rows: 5, URIs: []string{"gs://b/x"},
					ErrorClass: "cancelled", Error: "shutdown: drain timeout exceeded",
				},
				wantURIs: []string{"gs://b/x"},
			},
		}
		for i, tt := range tests {
			start := base.Add(time.Duration(i) * time.Minute)
			r, err := s.StartRun(ctx, "job-"+tt.name, base, start)
			require.NoError(t, err, tt.name)
			finished := start.Add(1500 * time.Millisecond).Add(789 * time.Nanosecond).In(est)
			recorded, err := s.FinishRun(ctx, r.ID, tt.res, finished)
			require.NoError(t, err, tt.name)

			got, err := s.GetRun(ctx, r.ID)
			require.NoError(t, err, tt.name)
			wantError := tt.res.Error
			if tt.wantError != "" {
				wantError = tt.wantError
			}
			want := state.Run{
				ID:            r.ID,
				Job:           "job-" + tt.name,
				ScheduledTime: us(base),
				Attempt:       1,
				Status:        tt.res.Status,
				StartedAt:     us(start),
				FinishedAt:    us(finished),
				Rows:          tt.res.Rows,
				Bytes:         tt.res.Bytes,
				URIs:          tt.wantURIs,
				ErrorClass:    tt.res.ErrorClass,
				Error:         wantError,
			}
			require.Equal(t, want, got, tt.name)
			require.Equal(t, got, recorded, "%s: FinishRun returns the run as GetRun reads it back", tt.name)
		}
	})

	t.Run("FinishRunRejectsNonTerminalStatus", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)
		for _, st := range []state.Status{state.Running, state.Scheduled, "", "bogus"} {
			_, err := s.FinishRun(ctx, r.ID, state.Result{Status: st}, base)
			require.Error(t, err, "status %q", st)
			require.NotErrorIs(t, err, state.ErrNotFound)
		}
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, state.Running, got.Status, "a rejected FinishRun changes nothing")
		_, err = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded}, base)
		require.NoError(t, err)
	})

	t.Run("GetRunUnknown", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		for _, id := range []string{"0190a4c2-0000-7000-8000-000000000000", "not-a-uuid", ""} {
			_, err := s.GetRun(ctx, id)
			require.ErrorIs(t, err, state.ErrNotFound, "id %q", id)
		}
	})

	t.Run("FinishRunUnknown", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		_, err := s.StartRun(ctx, "daily", base, base) // a store that is not empty
		require.NoError(t, err)
		for _, id := range []string{"0190a4c2-0000-7000-8000-000000000000", "not-a-uuid", ""} {
			_, err := s.FinishRun(ctx, id, state.Result{Status: state.Succeeded}, base)
			require.ErrorIs(t, err, state.ErrNotFound, "id %q", id)
		}
	})

	t.Run("FinishRunTwice", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)
		first := state.Result{Status: state.Failed, ErrorClass: "retryable", Error: "503"}
		_, err = s.FinishRun(ctx, r.ID, first, base.Add(time.Second))
		require.NoError(t, err)

		_, err = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded, Rows: 7}, base.Add(2*time.Second))
		require.ErrorIs(t, err, state.ErrNotRunning)
		require.NotErrorIs(t, err, state.ErrNotFound)

		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, state.Failed, got.Status, "the first outcome stands")
		require.Equal(t, "503", got.Error)
		require.Equal(t, int64(0), got.Rows)
		require.Equal(t, us(base.Add(time.Second)), got.FinishedAt)
	})

	t.Run("ConcurrentFinishRunOneWins", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded, Rows: int64(i)}, base)
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "FinishRun succeeded twice")
				winner = i
				continue
			}
			require.ErrorIs(t, err, state.ErrNotRunning)
		}
		require.NotEqual(t, -1, winner, "no FinishRun succeeded")
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, int64(winner), got.Rows, "the stored outcome is the winner's")
	})

	t.Run("ListRuns", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		// Started out of order, and two of them at the same instant.
		starts := []struct {
			job   string
			start time.Duration
		}{
			{"a", 3 * time.Minute},
			{"b", 1 * time.Minute},
			{"a", 5 * time.Minute},
			{"b", 5 * time.Minute},
			{"a", 0},
			{"c", 4 * time.Minute},
		}
		var runs []state.Run
		for i, st := range starts {
			r, err := s.StartRun(ctx, st.job, base.Add(time.Duration(i)*time.Hour), base.Add(st.start))
			require.NoError(t, err)
			runs = append(runs, r)
		}
		ids := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, runs[i].ID)
			}
			return out
		}
		// Newest first by start time; same start time: later-created first.
		tests := []struct {
			name string
			opts state.ListOptions
			want []string
		}{
			{"all", state.ListOptions{}, ids(3, 2, 5, 0, 1, 4)},
			{"limit", state.ListOptions{Limit: 2}, ids(3, 2)},
			{"job", state.ListOptions{Job: "a"}, ids(2, 0, 4)},
			{"job and limit", state.ListOptions{Job: "a", Limit: 1}, ids(2)},
			{"limit above count", state.ListOptions{Job: "b", Limit: 1000}, ids(3, 1)},
			{"unknown job", state.ListOptions{Job: "zzz"}, nil},
		}
		for _, tt := range tests {
			got, err := s.ListRuns(ctx, tt.opts)
			require.NoError(t, err, tt.name)
			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
			}
			require.Equal(t, tt.want, gotIDs, tt.name)
		}

		// Listed runs carry every field, finished or not.
		_, err := s.FinishRun(ctx, runs[2].ID, state.Result{
			Status: state.Succeeded, Rows: 3, Bytes: 4, URIs: []string{"gs://b/o"},
		}, base.Add(6*time.Minute))
		require.NoError(t, err)
		got, err := s.ListRuns(ctx, state.ListOptions{Job: "a"})
		require.NoError(t, err)
		require.Len(t, got, 3)
		fetched, err := s.GetRun(ctx, runs[2].ID)
		require.NoError(t, err)
		require.Equal(t, fetched, got[0])
		require.Equal(t, runs[0], got[1])

		_, err = s.ListRuns(ctx, state.ListOptions{Limit: -1})
		require.Error(t, err, "a negative limit is rejected")
	})

	t.Run("ListRunsDefaultLimit", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		const n = 105
		for i := range n {
			_, err := s.StartRun(ctx, "many", base, base.Add(time.Duration(i)*time.Second))
			require.NoError(t, err)
		}
		got, err := s.ListRuns(ctx, state.ListOptions{})
		require.NoError(t, err)
		require.Len(t, got, 100)
		require.Equal(t, n, got[0].Attempt, "newest first")
		require.Equal(t, n-99, got[99].Attempt)
	})

	t.Run("ConcurrentStartRunSameKey", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		const n = 20
		runs := make([]state.Run, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				runs[i], errs[i] = s.StartRun(ctx, "contended", base, base)
			})
		}
		close(start)
		wg.Wait()
		attempts := map[int]bool{}
		ids := map[string]bool{}
		for i := range n {
			require.NoError(t, errs[i], "goroutine %d", i)
			require.False(t, attempts[runs[i].Attempt], "attempt %d assigned twice", runs[i].Attempt)
			attempts[runs[i].Attempt] = true
			ids[runs[i].ID] = true
		}
		for a := 1; a <= n; a++ {
			require.True(t, attempts[a], "attempt %d never assigned", a)
		}
		require.Len(t, ids, n)

		// What was returned is what was stored.
		for _, r := range runs {
			got, err := s.GetRun(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, r, got)
		}
		next, err := s.StartRun(ctx, "contended", base, base)
		require.NoError(t, err)
		require.Equal(t, n+1, next.Attempt)
	})

	t.Run("TimesAreInstants", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		// The same instant in three locations is one key.
		r1, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)
		r2, err := s.StartRun(ctx, "daily", base.In(est), base)
		require.NoError(t, err)
		r3, err := s.StartRun(ctx, "daily", base.In(time.FixedZone("IST", 5*60*60+30*60)), base)
		require.NoError(t, err)
		require.Equal(t, []int{1, 2, 3}, []int{r1.Attempt, r2.Attempt, r3.Attempt})
		for _, r := range []state.Run{r1, r2, r3} {
			got, err := s.GetRun(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, us(base), got.ScheduledTime)
		}

		// Keys compare at microsecond precision: nanoseconds do not make a new key.
		r4, err := s.StartRun(ctx, "daily", base.Add(1), base)
		require.NoError(t, err)
		require.Equal(t, 4, r4.Attempt)

		// A different wall clock reading in another zone is another instant.
		sameWall := time.Date(base.Year(), base.Month(), base.Day(), base.Hour(), base.Minute(), base.Second(), base.Nanosecond(), est)
		r5, err := s.StartRun(ctx, "daily", sameWall, base)
		require.NoError(t, err)
		require.Equal(t, 1, r5.Attempt)
		require.Equal(t, us(sameWall), r5.ScheduledTime)

		// Times far from now survive.
		for i, tm := range []time.Time{
			time.Date(1969, time.July, 20, 20, 17, 40, 999999000, time.UTC),
			time.Date(2999, time.December, 31, 23, 59, 59, 999999000, est),
		} {
			r, err := s.StartRun(ctx, fmt.Sprintf("far-%d", i), tm, tm)
			require.NoError(t, err)
			got, err := s.GetRun(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, us(tm), got.ScheduledTime)
			require.Equal(t, us(tm), got.StartedAt)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		r, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"StartRun": func() error { _, err := s.StartRun(cctx, "daily", base, base); return err },
			"FinishRun": func() error {
				_, err := s.FinishRun(cctx, r.ID, state.Result{Status: state.Succeeded}, base)
				return err
			},
			"GetRun":   func() error { _, err := s.GetRun(cctx, r.ID); return err },
			"ListRuns": func() error { _, err := s.ListRuns(cctx, state.ListOptions{}); return err },
		}
		for name, call := range calls {
			err := call()
			require.Error(t, err, name)
			require.True(t, errors.Is(err, context.Canceled), "%s: %v does not wrap context.Canceled", name, err)
		}

		// Nothing happened: still one attempt, still running.
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, state.Running, got.Status)
		next, err := s.StartRun(ctx, "daily", base, base)
		require.NoError(t, err)
		require.Equal(t, 2, next.Attempt)
	})
}

// RunShared runs the checks that take several stores on one database, as
// replicas have them. newStores must return n stores sharing one fresh, empty
// database (or file), each with its own connections, closed when t ends.
func RunShared(t *testing.T, newStores func(t *testing.T, n int) []Store) {
	t.Helper()
	const lease = 30 * time.Second

	t.Run("SharedSlotsSeenByEveryStore", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		stores := newStores(t, 2)
		require.Len(t, stores, 2)
		a, b := stores[0], stores[1]
		acquire := func(s Store, holder string, at time.Duration, want bool) {
			t.Helper()
			got, err := s.AcquireSlot(ctx, "user-1", holder, 2, base.Add(at), lease)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s at +%s", holder, at)
		}
		acquire(a, "a1", 0, true)
		acquire(b, "b1", 0, true)
		acquire(a, "a2", 0, false)
		acquire(b, "b2", 0, false)
		acquire(b, "a1", 0, true) // a holder is a holder on any store
		require.NoError(t, b.ReleaseSlot(ctx, "user-1", "a1"))
		require.ErrorIs(t, a.RenewSlot(ctx, "user-1", "a1", base, lease), state.ErrSlotLost)
		acquire(a, "a2", 0, true)
		// b1's lease ends; a takes its slot; b1 finds out on b.
		acquire(a, "a3", lease, true)
		require.ErrorIs(t, b.RenewSlot(ctx, "user-1", "b1", base.Add(lease), lease), state.ErrSlotLost)
	})

	t.Run("SharedSlotsConcurrentNeverExceedMax", func(t *testing.T) {
		t.Parallel()
		stores := newStores(t, 3)
		require.Len(t, stores, 3)
		hammerSlots(t, stores)
	})
}
