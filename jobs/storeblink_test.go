package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// blinking is a store that is briefly down: the next n calls of a
// method fail (failNext), each failure reported on failed.
type blinking struct {
	state.Store
	mu     sync.Mutex
	left   map[string]int // method -> failures to come
	failed chan string
}

var errBlink = errors.New("state store unreachable: connection refused")

func newBlinking(s state.Store) *blinking {
	return &blinking{Store: s, left: map[string]int{}, failed: make(chan string, 100)}
}

// failNext makes the next n calls of method fail with errBlink.
func (b *blinking) failNext(method string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left[method] = n
}

// down reports whether this call of method fails.
func (b *blinking) down(method string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left[method] <= 0 {
		return false
	}
	b.left[method]--
	select {
	case b.failed <- method:
	default: // nobody counts them
	}
	return true
}

func (b *blinking) FinishRun(ctx context.Context, id string, res state.Result, now time.Time) (state.Run, error) {
	if b.down("FinishRun") {
		return state.Run{}, errBlink
	}
	return b.Store.FinishRun(ctx, id, res, now)
}

func (b *blinking) Claim(ctx context.Context, job string, at time.Time, replica string, now time.Time, lease time.Duration) (state.Run, bool, error) {
	if b.down("Claim") {
		return state.Run{}, false, errBlink
	}
	return b.Store.Claim(ctx, job, at, replica, now, lease)
}

func (b *blinking) RenewLease(ctx context.Context, id, replica string, now time.Time, lease time.Duration) error {
	if b.down("RenewLease") {
		return errBlink
	}
	return b.Store.RenewLease(ctx, id, replica, now, lease)
}

func (b *blinking) Retry(ctx context.Context, prevID, replica string, now time.Time, lease time.Duration) (state.Run, error) {
	if b.down("Retry") {
		return state.Run{}, errBlink
	}
	return b.Store.Retry(ctx, prevID, replica, now, lease)
}

func (b *blinking) ListRuns(ctx context.Context, opts state.ListOptions) ([]state.Run, error) {
	if b.down("ListRuns") {
		return nil, errBlink
	}
	return b.Store.ListRuns(ctx, opts)
}

func (b *blinking) Running(ctx context.Context, job string) ([]state.Run, error) {
	if b.down("Running") {
		return nil, errBlink
	}
	return b.Store.Running(ctx, job)
}

func (b *blinking) LatestScheduled(ctx context.Context, job string) (state.Run, error) {
	if b.down("LatestScheduled") {
		return state.Run{}, errBlink
	}
	return b.Store.LatestScheduled(ctx, job)
}

func (b *blinking) LastSuccess(ctx context.Context, job string) (state.Run, error) {
	if b.down("LastSuccess") {
		return state.Run{}, errBlink
	}
	return b.Store.LastSuccess(ctx, job)
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
	store.failNext("FinishRun", 3)
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
	store.failNext("Claim", 3)
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
	store.failNext("FinishRun", 1000)
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
	store.failNext("Claim", 1000)
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
	r.store.failNext("RenewLease", 2)
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
	r.store.failNext("RenewLease", 1)
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

// blinkFixture is a bundle whose runner's store blinks (failNext) and
// whose log is observed, to follow the waits between retries.
type blinkFixture struct {
	*bundle
	blink  *blinking
	runner *jobs.Runner
	log    *zap.Logger
	waits  *backoffs
}

func newBlinkFixture(t *testing.T, rows int) *blinkFixture {
	t.Helper()
	b := setup(t, rows)
	core, logs := observer.New(zapcore.InfoLevel)
	log := zap.New(zapcore.NewTee(b.log.Core(), core))
	store := newBlinking(b.store)
	return &blinkFixture{bundle: b, blink: store, log: log, waits: &backoffs{logs: logs},
		runner: &jobs.Runner{Looker: b.client, Sinks: b.runner.Sinks, Store: store, Log: log}}
}

// backoffs follows, in a log, the waits before a retry: a store call's
// (storeRetry) and a run's.
type backoffs struct {
	logs *observer.ObservedLogs
	seen int
}

// next waits for the next wait logged and returns its entry: "call" names
// the store call; a run's retry has none.
func (w *backoffs) next(t *testing.T) observer.LoggedEntry {
	t.Helper()
	var e observer.LoggedEntry
	eventually(t, "a retry to wait", func() bool {
		var waits []observer.LoggedEntry
		for _, e := range w.logs.All() { // the observer's filters are snapshots
			if _, ok := e.ContextMap()["backoff"]; ok {
				waits = append(waits, e)
			}
		}
		if len(waits) > w.seen {
			e = waits[w.seen]
			return true
		}
		return false
	})
	w.seen++
	return e
}

// advance moves clock to the end of e's wait, once its timer is pending.
func (w *backoffs) advance(t *testing.T, clock *fakeClock, e observer.LoggedEntry) {
	t.Helper()
	at := clock.Now().Add(e.ContextMap()["backoff"].(time.Duration))
	eventually(t, "the retry's backoff", func() bool { return clock.timerAt(at) })
	clock.AdvanceTo(at)
}

// through moves clock through the next n waits and returns the store calls
// they retry ("" for a run's retry).
func (w *backoffs) through(t *testing.T, clock *fakeClock, n int) []string {
	t.Helper()
	var calls []string
	for range n {
		e := w.next(t)
		call, _ := e.ContextMap()["call"].(string)
		calls = append(calls, call)
		w.advance(t, clock, e)
	}
	return calls
}

// TestStoreCallsOfTheRunPathRetry pins that every store call a fire or a
// run makes rides out a store that fails twice: the record of a skipped
// fire, the look for a run in flight elsewhere (overlap: skip), catch-up's
// read of the latest run, the reaper's look for expired leases, the next
// attempt after a retryable failure, and a run's read of its last success.
func TestStoreCallsOfTheRunPathRetry(t *testing.T) {
	t.Parallel()
	at := func(min int) time.Time { return time.Date(2026, 3, 1, 6, min, 0, 0, time.UTC) }
	ctx := context.Background()
	const job = "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/{{ .RunID }}.csv\n"
	// scheduler starts a scheduler on f's runner at start with job's keys.
	scheduler := func(t *testing.T, f *blinkFixture, start time.Time, keys string) *schedFixture {
		return startConfigured(t, f.bundle, start, func(s *jobs.Scheduler) {
			s.Runner, s.Log, s.Lease, s.Jitter = f.runner, f.log, time.Minute, func() float64 { return 0 }
		}, job+keys)
	}
	// trigger runs job (with keys) through a Trigger on f's runner, in the
	// background.
	trigger := func(t *testing.T, f *blinkFixture, clock *fakeClock, keys string) <-chan state.Run {
		trig := &jobs.Trigger{Runner: f.runner, Clock: clock, Log: f.log, Lease: time.Minute, Jitter: func() float64 { return 0 }}
		j := f.job(t, "joba", job+keys)
		done := make(chan state.Run, 1)
		go func() {
			run, err := trig.Run(ctx, j, at(0), jobs.TriggerOptions{})
			assert.NoError(t, err)
			done <- run
		}()
		return done
	}
	attempts := func(t *testing.T, f *blinkFixture, at time.Time, status state.Status, n int) []state.Run {
		var runs []state.Run
		eventually(t, "the attempts to be recorded", func() bool {
			var err error
			runs, err = f.store.Attempts(ctx, "joba", at)
			require.NoError(t, err)
			return len(runs) == n && runs[n-1].Status == status
		})
		return runs
	}
	// skipped fires 06:01 while 06:00 is in flight in another replica,
	// with call failing twice: it is recorded skipped.
	skipped := func(t *testing.T, f *blinkFixture, call string) {
		_, claimed, err := f.store.Claim(ctx, "joba", at(0), "other", at(0), time.Hour)
		require.NoError(t, err)
		require.True(t, claimed)
		s := scheduler(t, f, at(0).Add(30*time.Second), "")
		s.clock.waitFire(t, at(1))
		s.clock.AdvanceTo(at(1))
		require.Equal(t, []string{call, call}, f.waits.through(t, s.clock, 2))
		attempts(t, f, at(1), state.Skipped, 1)
		require.Zero(t, queryRuns(f.srv), "overlap: skip holds while the store blinks")
	}
	for _, tc := range []struct {
		name string
		call string
		test func(t *testing.T, f *blinkFixture, call string)
	}{
		{"record a skipped fire", "FinishRun", skipped},
		{"look for a run in flight elsewhere (overlap: skip)", "Running", skipped},
		{"catch-up's read of the latest run", "LatestScheduled", func(t *testing.T, f *blinkFixture, _ string) {
			r, _, err := f.store.Claim(ctx, "joba", at(0), "local", at(0), time.Minute)
			require.NoError(t, err)
			_, err = f.store.FinishRun(ctx, r.ID, state.Result{Status: state.Succeeded}, at(0))
			require.NoError(t, err)
			s := scheduler(t, f, at(5).Add(30*time.Second), "catchup: latest")
			require.Equal(t, []string{"LatestScheduled", "LatestScheduled"}, f.waits.through(t, s.clock, 2))
			attempts(t, f, at(5), state.Succeeded, 1)
		}},
		{"a fire due while catch-up waits for the store", "LatestScheduled", func(t *testing.T, f *blinkFixture, _ string) {
			s := scheduler(t, f, at(1).Add(-time.Second), "catchup: latest") // a new job: nothing to catch up
			require.Equal(t, []string{"LatestScheduled", "LatestScheduled"}, f.waits.through(t, s.clock, 2))
			attempts(t, f, at(1), state.Succeeded, 1) // 06:01 passed during the retries
		}},
		{"the reaper's look for expired leases", "Running", func(t *testing.T, f *blinkFixture, _ string) {
			_, _, err := f.store.Claim(ctx, "joba", at(0), "dead", at(0), time.Minute)
			require.NoError(t, err)
			s := scheduler(t, f, at(0).Add(30*time.Second), "schedule: '0 0 1 1 *'")
			s.clock.waitFire(t, at(1).Add(30*time.Second)) // the reaper's tick, a lease after the start
			s.clock.AdvanceTo(at(1).Add(30 * time.Second))
			require.Equal(t, []string{"Running", "Running"}, f.waits.through(t, s.clock, 2))
			runs := attempts(t, f, at(0), state.Succeeded, 2)
			require.Equal(t, state.Interrupted, runs[0].Status)
		}},
		{"the next attempt after a retryable failure", "Retry", func(t *testing.T, f *blinkFixture, _ string) {
			f.srv.DropNextRun(10)
			clock := newFakeClock(at(0))
			done := trigger(t, f, clock, "retries: {max_attempts: 2, backoff: 4s, max_backoff: 4s}")
			require.Equal(t, []string{"", "Retry", "Retry"}, f.waits.through(t, clock, 3))
			run := <-done
			require.Equal(t, state.Succeeded, run.Status)
			require.Equal(t, 2, run.Attempt)
		}},
		{"a run's read of its last success", "LastSuccess", func(t *testing.T, f *blinkFixture, _ string) {
			clock := newFakeClock(at(0))
			done := trigger(t, f, clock, "")
			require.Equal(t, []string{"LastSuccess", "LastSuccess"}, f.waits.through(t, clock, 2))
			run := <-done
			require.Equal(t, state.Succeeded, run.Status, run.Error)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newBlinkFixture(t, 20)
			f.blink.failNext(tc.call, 2)
			tc.test(t, f, tc.call)
		})
	}
}
