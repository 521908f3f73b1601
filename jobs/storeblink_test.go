package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// blinking is a store that is briefly down: the next n calls of FinishRun
// and of Claim fail (finishFails, claimFails), each failure reported on
// failed.
type blinking struct {
	state.Store
	finishFails atomic.Int32
	claimFails  atomic.Int32
	renewFails  atomic.Int32
	failed      chan string
}

var errBlink = errors.New("state store unreachable: connection refused")

func newBlinking(s state.Store) *blinking {
	return &blinking{Store: s, failed: make(chan string, 100)}
}

func (b *blinking) FinishRun(ctx context.Context, id string, res state.Result, now time.Time) error {
	if b.finishFails.Add(-1) >= 0 {
		b.failed <- "FinishRun"
		return errBlink
	}
	return b.Store.FinishRun(ctx, id, res, now)
}

func (b *blinking) Claim(ctx context.Context, job string, at time.Time, replica string, now time.Time, lease time.Duration) (state.Run, bool, error) {
	if b.claimFails.Add(-1) >= 0 {
		b.failed <- "Claim"
		return state.Run{}, false, errBlink
	}
	return b.Store.Claim(ctx, job, at, replica, now, lease)
}

func (b *blinking) RenewLease(ctx context.Context, id, replica string, now time.Time, lease time.Duration) error {
	if b.renewFails.Add(-1) >= 0 {
		b.failed <- "RenewLease"
		return errBlink
	}
	return b.Store.RenewLease(ctx, id, replica, now, lease)
}

// throughOutage waits for each of n failed calls of store in turn, then
// moves clock to the retry's backoff timer, the earliest of the pending
// timers once pending of them are (the backoff included).
func throughOutage(t *testing.T, store *blinking, clock *fakeClock, call string, n, pending int) {
	t.Helper()
	for i := range n {
		select {
		case got := <-store.failed:
			require.Equal(t, call, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was not retried after failure %d", call, i)
		}
		clock.waitTimers(t, pending)
		clock.AdvanceTo(clock.nextTimer())
	}
}

// TestFinishedRunIsRecordedWhenTheStoreReturns pins that a run that
// exported all its rows while the store was down is recorded succeeded,
// with its rows and URIs, once the store answers, and returns no error.
func TestFinishedRunIsRecordedWhenTheStoreReturns(t *testing.T) {
	t.Parallel()
	b := setup(t, 50)
	ctx := context.Background()
	store := newBlinking(b.store)
	store.finishFails.Store(3)
	runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: store, Log: b.log}
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv")
	scheduled := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	clock := newFakeClock(scheduled.Add(5 * time.Second))
	trig := &jobs.Trigger{Runner: runner, Clock: clock, Replica: "here", Lease: time.Minute, Jitter: func() float64 { return 0 }}

	type result struct {
		run state.Run
		err error
	}
	done := make(chan result, 1)
	go func() {
		run, err := trig.Run(ctx, job, scheduled, jobs.TriggerOptions{NoRetry: true})
		done <- result{run, err}
	}()
	// Pending: the lease renewal, the job's timeout and the backoff.
	throughOutage(t, store, clock, "FinishRun", 3, 3)
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not return once the store answered")
	}
	require.NoError(t, res.err)
	require.Equal(t, state.Succeeded, res.run.Status)
	got, err := b.store.GetRun(ctx, res.run.ID)
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, got.Status)
	require.Equal(t, int64(50), got.Rows)
	require.Len(t, got.URIs, 1)
	_, err = os.Stat(strings.TrimPrefix(got.URIs[0], "file://"))
	require.NoError(t, err, "the export is published")
}

// TestFireClaimRetriesThroughAStoreOutage pins that a fire whose claim
// meets a store that is briefly down is claimed once it answers, and runs
// exactly once.
func TestFireClaimRetriesThroughAStoreOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	ctx := context.Background()
	store := newBlinking(b.store)
	store.claimFails.Store(3)
	runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: store, Log: b.log}
	start := time.Date(2026, 3, 1, 6, 0, 30, 0, time.UTC)
	clock := newFakeClock(start)
	s := &jobs.Scheduler{Runner: runner, Clock: clock, Log: b.log, DrainTimeout: time.Minute, Replica: "r0",
		Lease: time.Hour, Jitter: func() float64 { return 0 }}
	s.Jobs = []*config.Job{b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv")}
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(20 * time.Second):
			t.Error("scheduler did not stop")
		}
	})

	fireAt := time.Date(2026, 3, 1, 6, 1, 0, 0, time.UTC)
	clock.waitTimers(t, 2) // the job's next fire and the reaper
	clock.AdvanceTo(fireAt)
	// Pending: the next fire, the reaper and the backoff.
	throughOutage(t, store, clock, "Claim", 3, 3)
	var attempts []state.Run
	eventually(t, "the fire to run", func() bool {
		var err error
		attempts, err = b.store.Attempts(ctx, "orders", fireAt)
		require.NoError(t, err)
		return len(attempts) == 1 && attempts[0].Status == state.Succeeded
	})
	require.Equal(t, 1, queryRuns(b.srv), "the fire ran once")
}

// TestRunOutlivingTheStoreIsNotAFailure pins that a store that stays down
// longer than the retries wait (two leases) is logged, and the export that
// succeeded is returned as succeeded, not as the store's error.
func TestRunOutlivingTheStoreIsNotAFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	store := newBlinking(b.store)
	store.finishFails.Store(1000)
	runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: store, Log: b.log}
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv")
	scheduled := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	clock := newFakeClock(scheduled.Add(5 * time.Second))
	trig := &jobs.Trigger{Runner: runner, Clock: clock, Replica: "here", Lease: time.Minute}
	done := make(chan error, 1)
	var run state.Run
	go func() {
		var err error
		run, err = trig.Run(context.Background(), job, scheduled, jobs.TriggerOptions{NoRetry: true})
		done <- err
	}()
	<-store.failed
	clock.waitTimers(t, 3) // the lease renewal, the job's timeout and the backoff
	clock.Advance(3 * time.Minute)
	select {
	case err := <-done:
		require.NoError(t, err, "the export succeeded")
	case <-time.After(10 * time.Second):
		t.Fatal("FinishRun was retried past its window")
	}
	require.Equal(t, state.Succeeded, run.Status)
	require.Equal(t, int64(20), run.Rows)
	require.Len(t, run.URIs, 1)
}

// TestClaimRetriesStopWithTheContext pins that cancelling the caller's
// context ends the retries of a claim against a store that is down.
func TestClaimRetriesStopWithTheContext(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	store := newBlinking(b.store)
	store.claimFails.Store(1000)
	runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: store, Log: b.log}
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv")
	scheduled := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	clock := newFakeClock(scheduled)
	trig := &jobs.Trigger{Runner: runner, Clock: clock, Replica: "here", Lease: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := trig.Run(ctx, job, scheduled, jobs.TriggerOptions{})
		done <- err
	}()
	<-store.failed
	clock.waitTimers(t, 1) // the backoff
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, errBlink)
	case <-time.After(10 * time.Second):
		t.Fatal("the claim's retries did not stop with the context")
	}
	require.Equal(t, 0, queryRuns(b.srv))
}

// stalledRun is a triggered run held by the sandbox after its headers,
// on a fake clock and a store whose renewals can be made to fail.
type stalledRun struct {
	b       *bundle
	store   *blinking
	clock   *fakeClock
	release chan struct{}
	done    chan error
}

const stalledLease = 3 * time.Minute

// startStalledRun starts one attempt through a Trigger and returns once the
// sandbox holds it.
func startStalledRun(t *testing.T) *stalledRun {
	t.Helper()
	b := setup(t, 20)
	store := newBlinking(b.store)
	runner := &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: store, Log: b.log}
	job := b.job(t, "orders", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv")
	scheduled := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	r := &stalledRun{b: b, store: store, clock: newFakeClock(scheduled), release: make(chan struct{}), done: make(chan error, 1)}
	trig := &jobs.Trigger{Runner: runner, Clock: r.clock, Replica: "here", Lease: stalledLease, Jitter: func() float64 { return 0 }}
	stalled := b.srv.StallNextRun(r.release, true)
	go func() {
		run, err := trig.Run(context.Background(), job, scheduled, jobs.TriggerOptions{NoRetry: true})
		if err == nil && run.Status != state.Succeeded {
			err = fmt.Errorf("run %s: %s", run.ID, run.Status)
		}
		r.done <- err
	}()
	select {
	case <-stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not start")
	}
	return r
}

// leaseRenewed waits until the run's lease reaches one lease past now.
func (r *stalledRun) leaseRenewed(t *testing.T, what string) {
	t.Helper()
	eventually(t, what, func() bool {
		runs, err := r.b.store.ListRuns(context.Background(), state.ListOptions{Job: "orders"})
		require.NoError(t, err)
		return len(runs) == 1 && runs[0].LeaseExpires.Equal(r.clock.Now().Add(stalledLease))
	})
}

// finish releases the run and requires it to succeed.
func (r *stalledRun) finish(t *testing.T) {
	t.Helper()
	close(r.release)
	select {
	case err := <-r.done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not finish")
	}
}

// TestLeaseRenewalRidesOutABlip pins that renewals that fail because the
// store is briefly down are retried and the run goes on: only a lease lost
// to another holder (state.ErrLeaseLost) stops it.
func TestLeaseRenewalRidesOutABlip(t *testing.T) {
	t.Parallel()
	r := startStalledRun(t)
	r.store.renewFails.Store(2)
	r.clock.waitTimers(t, 2) // the lease renewal and the job's timeout
	r.clock.AdvanceTo(r.clock.nextTimer())
	// Pending: the next renewal (or its retry) and the job's timeout.
	throughOutage(t, r.store, r.clock, "RenewLease", 2, 2)
	r.leaseRenewed(t, "the lease to be renewed once the store answers")
	r.finish(t)
}

// TestLeaseRenewalRetriesBeforeTheNextTick pins that a renewal the store
// failed is retried with backoff, well before the next renewal is due, so
// that a blip does not eat a third of the lease per failure.
func TestLeaseRenewalRetriesBeforeTheNextTick(t *testing.T) {
	t.Parallel()
	r := startStalledRun(t)
	r.store.renewFails.Store(1)
	r.clock.waitTimers(t, 2) // the lease renewal and the job's timeout
	r.clock.AdvanceTo(r.clock.nextTimer())
	select {
	case <-r.store.failed:
	case <-time.After(10 * time.Second):
		t.Fatal("no renewal")
	}
	failedAt := r.clock.Now()
	eventually(t, "the renewal's retry to be due before the next tick", func() bool {
		next := r.clock.nextTimer()
		return next.After(failedAt) && next.Before(failedAt.Add(stalledLease/3))
	})
	r.clock.AdvanceTo(r.clock.nextTimer())
	r.leaseRenewed(t, "the lease to be renewed")
	r.finish(t)
}
