package jobs_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/state"
)

// TestMissingBucketFailsBeforeTheQuery: a run whose destination is in a
// bucket that does not exist fails permanently, cause first, before
// Looker sees any query, and is not retried.
func TestMissingBucketFailsBeforeTheQuery(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"source: {look_id: '42'}", "source: {query: {model: thelook, view: orders, fields: [orders.id]}}"} {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 5)
			job := b.job(t, "orders", src+"\nformat: csv\nretries: {max_attempts: 3, backoff: 1s}\ndestination: 'gs://no-such-bucket/{{ .Job }}/orders.csv'")
			run, err := (&jobs.Trigger{Runner: b.runner}).Run(t.Context(), job, scheduled, jobs.TriggerOptions{})
			require.ErrorIs(t, err, sinks.ErrNotWritable)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Equal(t, 1, run.Attempt, "not retried")
			require.True(t, strings.HasPrefix(run.Error, "bucket no-such-bucket does not exist (or these credentials cannot see it): create it, or fix the job's destination gs://no-such-bucket/orders/orders.csv"), run.Error)
			for _, op := range []string{"run_look", "run_query", "create_query", "run_inline_query", "create_query_task"} {
				require.Zero(t, b.srv.Requests(op), "Looker saw %s", op)
			}
		})
	}
}

// countingChecker counts the checks of a sinks.Checker sink.
type countingChecker struct {
	sinks.Sink
	n *atomic.Int64
}

func (c countingChecker) Check(ctx context.Context, uri string) error {
	c.n.Add(1)
	return c.Sink.(sinks.Checker).Check(ctx, uri)
}

func (c countingChecker) Remove(ctx context.Context, uri string) error {
	return c.Sink.(sinks.Remover).Remove(ctx, uri)
}

// TestDestinationCheckIsCached: a destination folder that passed its check
// is not checked again for jobs.DestinationCheckTTL on the runner's
// clock; a new folder, or the same one after the TTL, is.
func TestDestinationCheckIsCached(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	clock := newFakeClock(scheduled)
	var n atomic.Int64
	inner := b.runner.Sinks
	b.runner.Clock = clock
	b.runner.Sinks = func(ctx context.Context, uri string) (sinks.Sink, error) {
		s, err := inner(ctx, uri)
		return countingChecker{Sink: s, n: &n}, err
	}
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: 'gs://"+bucket+"/{{ .Job }}/{{ .ScheduledTime.Format \"2006-01-02\" }}/orders.csv'")
	runAt := func(at time.Time) {
		t.Helper()
		run, err := b.run(t.Context(), job, at, jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, run.Status)
	}
	runAt(scheduled)
	require.Equal(t, int64(1), n.Load())
	clock.Advance(30 * time.Second)
	runAt(scheduled.Add(time.Minute))
	require.Equal(t, int64(1), n.Load(), "same folder within the TTL: not checked again")
	runAt(scheduled.Add(24 * time.Hour))
	require.Equal(t, int64(2), n.Load(), "a new folder is checked")
	clock.Advance(jobs.DestinationCheckTTL)
	runAt(scheduled.Add(2 * time.Minute))
	require.Equal(t, int64(3), n.Load(), "after the TTL the folder is checked again")
	require.NotContains(t, strings.Join(b.objects(t), " "), "_exporter_check_", "no probe object left")
}
