package jobs

import (
	"context"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// storeRetryFirst is the first wait before a store call that failed is
// made again; the waits double up to a quarter of the outage window.
const storeRetryFirst = time.Second

// storeOutage is how long a state store call is retried for with a lease
// of lease: twice the lease, so that an outage of one lease (SQLite locked,
// PostgreSQL restarting) loses neither a fire nor a finished run.
func storeOutage(lease time.Duration) time.Duration {
	if lease <= 0 {
		lease = config.DefaultLease
	}
	return 2 * lease
}

// storeBlinked reports whether err, from a state store call made under
// ctx, is worth retrying: the store was not reached or failed
// (state.Answered is false) and ctx is not done. This is the one place
// store errors are classified.
func storeBlinked(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && !state.Answered(err)
}

// storeRetry calls op until it returns nil or an error that is not a blink
// (storeBlinked), ctx is done, or op has been failing for window on clock;
// it waits between calls with an exponential backoff with equal jitter
// (jitter in [0, 1); nil means math/rand/v2), logging each failure. It
// returns op's last error, or ctx's error when ctx ended a wait.
func storeRetry(ctx context.Context, clock Clock, window time.Duration, jitter func() float64, log *zap.Logger, what string, op func() error) error {
	if jitter == nil {
		jitter = rand.Float64
	}
	deadline := clock.Now().Add(window)
	backoff := config.Retries{Backoff: storeRetryFirst, MaxBackoff: max(window/4, storeRetryFirst)}
	for n := 1; ; n++ {
		err := op()
		if !storeBlinked(ctx, err) {
			return err
		}
		delay := Backoff(backoff, n, jitter())
		if left := deadline.Sub(clock.Now()); left <= 0 {
			log.Error("state store still failing; giving up", zap.String("call", what), zap.Int("tries", n), zap.Duration("window", window), zap.Error(err))
			return err
		} else if delay > left {
			delay = left
		}
		log.Warn("state store call failed; retrying", zap.String("call", what), zap.Int("try", n), zap.Duration("backoff", delay), zap.Error(err))
		wait, stop := clock.After(delay)
		select {
		case <-wait:
		case <-ctx.Done():
			stop()
			return err
		}
	}
}

// lastSuccess reads the latest succeeded run of job for a run in flight
// (its templates' LastSuccessTime, its schema check), retried through a
// store outage like the run's final record (storeRetry): a store that
// blinks must neither fail the run nor change what it exports.
func (r *Runner) lastSuccess(ctx context.Context, log *zap.Logger, job string, opts RunOptions) (state.Run, error) {
	var last state.Run
	err := storeRetry(ctx, opts.clock, storeOutage(opts.lease), opts.jitter, log, "LastSuccess", func() (err error) {
		last, err = r.Store.LastSuccess(ctx, job)
		return err
	})
	return last, err
}
