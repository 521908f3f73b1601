package jobs_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

func TestBackfillThirtyDaysInterruptedAndResumed(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	job := b.job(t, "daily", "schedule: '0 6 * * *'\ntimezone: Europe/Berlin\nsource: {look_id: '42'}\nformat: csv\n"+
		"destination: '$DIR/dt={{ .ScheduledTime.Format \"2006-01-02\" }}/from={{ .PrevScheduledTime.Format \"2006-01-02\" }}.csv'")
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	// First pass: interrupted after 15 partitions.
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	firstPass := map[time.Time]state.Run{}
	_, err := jobs.Backfill(ctx, b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to, Parallel: 3,
		Progress: func(ev jobs.BackfillEvent) {
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, 30, ev.Total)
			if ev.Outcome == "succeeded" {
				firstPass[ev.Scheduled.UTC()] = ev.Run
			}
			if ev.Done == 15 {
				cancel()
			}
		}})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "run the same command again")
	mu.Lock()
	require.GreaterOrEqual(t, len(firstPass), 12)
	require.Less(t, len(firstPass), 30)
	mu.Unlock()

	// Second pass: the rest, and nothing that finished again.
	var ran, skipped int
	res, err := jobs.Backfill(context.Background(), b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to, Parallel: 2,
		Progress: func(ev jobs.BackfillEvent) {
			switch ev.Outcome {
			case "succeeded":
				ran++
				_, done := firstPass[ev.Scheduled.UTC()]
				require.False(t, done, "%s ran again", ev.Scheduled)
			case "skipped: already succeeded":
				skipped++
			default:
				t.Errorf("partition %s: %s %v", ev.Scheduled, ev.Outcome, ev.Err)
			}
		}})
	require.NoError(t, err)
	require.Equal(t, jobs.BackfillResult{Total: 30, Succeeded: ran, Skipped: skipped}, res)
	require.Equal(t, len(firstPass), skipped)

	// 30 partitions, each with its own data interval, each key succeeded once.
	for day := 1; day <= 30; day++ {
		at := time.Date(2026, 11, day, 6, 0, 0, 0, berlin(t))
		prev := at.AddDate(0, 0, -1)
		require.FileExists(t, fmt.Sprintf("%s/dt=%s/from=%s.csv", b.dir, at.Format("2006-01-02"), prev.Format("2006-01-02")))
		attempts, err := b.store.Attempts(context.Background(), "daily", at)
		require.NoError(t, err)
		succeeded := 0
		for _, a := range attempts {
			if a.Status == state.Succeeded {
				succeeded++
			}
		}
		require.Equal(t, 1, succeeded, "day %d: %+v", day, attempts)
		if r, ok := firstPass[at.UTC()]; ok {
			require.Len(t, attempts, 1, "day %d finished in the first pass and was not rerun", day)
			require.Equal(t, r.ID, attempts[0].ID)
		}
	}
	entries, err := os.ReadDir(b.dir)
	require.NoError(t, err)
	partitions := 0
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "dt=") {
			partitions++
		}
	}
	require.Equal(t, 30, partitions)
}

func TestBackfillRerun(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	job := b.job(t, "daily", "schedule: '0 6 * * *'\nsource: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ date \"2006-01-02\" }}.csv'")
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	res, err := jobs.Backfill(context.Background(), b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, jobs.BackfillResult{Total: 3, Succeeded: 3}, res)
	res, err = jobs.Backfill(context.Background(), b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, jobs.BackfillResult{Total: 3, Skipped: 3}, res)
	res, err = jobs.Backfill(context.Background(), b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to, Rerun: true})
	require.NoError(t, err)
	require.Equal(t, jobs.BackfillResult{Total: 3, Succeeded: 3}, res)
	attempts, err := b.store.Attempts(context.Background(), "daily", time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, attempts, 2, "a rerun is a new attempt under the same key")
	require.Equal(t, 6, queryRuns(b.srv))

	_, err = jobs.Backfill(context.Background(), b.runner, job, b.log, jobs.BackfillOptions{From: to, To: to})
	require.ErrorContains(t, err, "no fire time")
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	return loc
}

// TestBackfillSkippedByCondition: a partition whose send condition does
// not hold is counted skipped, with its reason, not succeeded; a later
// backfill checks it again.
func TestBackfillSkippedByCondition(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	job := b.job(t, "daily", "schedule: '0 6 * * *'\nsource: {look_id: '42'}\nformat: csv\nwhen: results\n"+
		"destination: '$DIR/dt={{ .ScheduledTime.Format \"2006-01-02\" }}/orders.csv'")
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	b.srv.SetRows(0)
	var mu sync.Mutex
	var outcomes []string
	res, err := jobs.Backfill(t.Context(), b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to,
		Progress: func(ev jobs.BackfillEvent) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, ev.Outcome)
		}})
	require.NoError(t, err)
	require.Equal(t, jobs.BackfillResult{Total: 3, Skipped: 3}, res)
	require.Equal(t, []string{"skipped: when: results: the result has no rows", "skipped: when: results: the result has no rows", "skipped: when: results: the result has no rows"}, outcomes)
	require.Empty(t, b.localFiles(t))

	b.srv.SetRows(2)
	res, err = jobs.Backfill(t.Context(), b.runner, job, b.log, jobs.BackfillOptions{From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, jobs.BackfillResult{Total: 3, Succeeded: 3}, res)
}
