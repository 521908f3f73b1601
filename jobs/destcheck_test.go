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

func (c countingChecker) CheckScope(uri string) string {
	return c.Sink.(sinks.Checker).CheckScope(uri)
}

func (c countingChecker) Remove(ctx context.Context, uri string) error {
	return c.Sink.(sinks.Remover).Remove(ctx, uri)
}

// TestDestinationCheckIsCached: a destination whose check scope (a local
// file's nearest existing directory, a GCS bucket) passed its check is not
// checked again for jobs.DestinationCheckTTL on the runner's clock; another
// scope, or the same one after the TTL, is.
func TestDestinationCheckIsCached(t *testing.T) {
	t.Parallel()
	day := func(n int) time.Time { return scheduled.Add(time.Duration(n) * 24 * time.Hour) }
	for _, tc := range []struct {
		name, dest string
		// checks after each run: day 0, day 0 a minute later, day 1, day 2,
		// then day 3 after the TTL
		want [5]int64
	}{
		// Day 0 writes below $DIR, which exists: its scope. Its second run
		// finds day 0's directory made: another scope. Day 1's directory is
		// new below $DIR/orders, made by day 0: a third. Day 2's is new
		// below it too: the same one.
		{"local", "$DIR/{{ .Job }}/{{ .ScheduledTime.Format \"2006-01-02\" }}/orders.csv", [5]int64{1, 2, 3, 3, 4}},
		// Every folder of a bucket is the bucket's scope.
		{"gcs", "gs://" + bucket + "/{{ .Job }}/{{ .ScheduledTime.Format \"2006-01-02\" }}/orders.csv", [5]int64{1, 1, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: '"+tc.dest+"'")
			runAt := func(at time.Time, want int64, why string) {
				t.Helper()
				run, err := b.run(t.Context(), job, at, jobs.RunOptions{})
				require.NoError(t, err)
				require.Equal(t, state.Succeeded, run.Status, run.Error)
				require.Equal(t, want, n.Load(), why)
			}
			runAt(day(0), tc.want[0], "first run: checked")
			clock.Advance(30 * time.Second)
			runAt(day(0).Add(time.Minute), tc.want[1], "day 0 again, within the TTL")
			runAt(day(1), tc.want[2], "day 1")
			runAt(day(2), tc.want[3], "day 2")
			clock.Advance(jobs.DestinationCheckTTL)
			runAt(day(3), tc.want[4], "after the TTL")
			if tc.name == "gcs" {
				require.NotContains(t, strings.Join(b.objects(t), " "), "_exporter_check_", "no probe object left")
			}
		})
	}
}
