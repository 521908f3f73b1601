package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/postgres"
)

// TestQuerySlotsHoldAcrossReplicas: two replicas, each with its own
// Looker client and its own connection pool to one PostgreSQL, share
// looker.max_concurrent_queries for their API user: Looker never sees
// more of their queries running at once, and every run succeeds.
func TestQuerySlotsHoldAcrossReplicas(t *testing.T) {
	t.Parallel()
	const maxQueries, perReplica = 3, 8
	b := setup(t, 20000)
	dsn := postgresDSN(t)
	var runners []*jobs.Runner
	for i := range 2 {
		store, err := postgres.Open(context.Background(), dsn)
		require.NoError(t, err)
		t.Cleanup(func() { store.Close() })
		slots := &jobs.StoreQuerySlots{Store: store, Replica: fmt.Sprint("r", i), Poll: 5 * time.Millisecond, Log: b.log}
		client, err := lookerapi.New(lookerapi.Config{BaseURL: b.srv.URL(), ClientID: b.srv.ClientID(), ClientSecret: b.srv.ClientSecret(),
			VerifySSL: true, MaxConcurrentQueries: maxQueries}, b.log, lookerapi.WithQuerySlots(slots))
		require.NoError(t, err)
		t.Cleanup(func() { client.Close(context.Background()) })
		runners = append(runners, &jobs.Runner{Looker: client, Sinks: b.runner.Sinks, Store: store, Log: b.log})
	}
	// Every run stalls in Looker until release: while it is closed, the
	// queries in Looker are exactly those holding a slot.
	release := make(chan struct{})
	for range 2 * perReplica {
		b.srv.StallNextRun(release, false)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for i, r := range runners {
		for k := range perReplica {
			job := b.job(t, fmt.Sprintf("j%d-%d", i, k), "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ .Job }}.csv'")
			wg.Add(1)
			go func() {
				defer wg.Done()
				run, err := (&jobs.Trigger{Runner: r}).Run(context.Background(), job, scheduled, jobs.TriggerOptions{NoRetry: true})
				if err == nil && run.Status != state.Succeeded {
					err = fmt.Errorf("run %s: %s", run.ID, run.Status)
				}
				errs <- err
			}()
		}
	}
	// All slots busy, every other run waiting for one, on both replicas.
	eventually(t, "3 queries running in Looker and 13 runs waiting for a slot", func() bool {
		waiting := 0
		for _, r := range runners {
			for _, f := range r.InFlight() {
				if f.Progress.WaitingForSlot.Load() {
					waiting++
				}
			}
		}
		return b.srv.RunningQueries() == maxQueries && waiting == 2*perReplica-maxQueries
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, b.srv.MaxRunningQueries(), maxQueries, "queries running at once in Looker, over both replicas")
	require.Equal(t, 2*perReplica, queryRuns(b.srv))
}

// flakySlots is a SlotStore that fails while down is set, and counts the
// slots asked of it.
type flakySlots struct {
	jobs.SlotStore
	mu    sync.Mutex
	down  bool
	tries atomic.Int64 // AcquireSlot calls
}

func (f *flakySlots) AcquireSlot(ctx context.Context, key, holder string, max int, now time.Time, lease time.Duration) (bool, error) {
	f.tries.Add(1)
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return false, fmt.Errorf("database is starting up")
	}
	return f.SlotStore.AcquireSlot(ctx, key, holder, max, now, lease)
}

// TestStoreQuerySlots: a run waits while the user's slots are taken and
// gets one when a holder releases, renews it while it holds it (so a long
// query keeps its slot past the lease), waits through a store outage
// instead of exceeding the budget, and stops waiting when its context
// ends. Users are independent.
func TestStoreQuerySlots(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	clock := newFakeClock(scheduled)
	store := &flakySlots{SlotStore: b.store}
	slots := &jobs.StoreQuerySlots{Store: store, Replica: "r1", Lease: time.Minute, Poll: time.Second, Clock: clock, Log: b.log}
	ctx := context.Background()

	r1, err := slots.Acquire(ctx, "alice", 2)
	require.NoError(t, err)
	r2, err := slots.Acquire(ctx, "alice", 2)
	require.NoError(t, err)
	other, err := slots.Acquire(ctx, "bob", 2)
	require.NoError(t, err, "another user has slots of its own")
	other()

	got := make(chan func(), 1)
	go func() {
		r, err := slots.Acquire(ctx, "alice", 2)
		if err == nil {
			got <- r
		}
	}()
	// Two renewers (every lease/3) and the waiter's poll are on the clock.
	clock.waitTimers(t, 3)
	// Held slots outlive their lease: they are renewed.
	for range 6 {
		clock.Advance(20 * time.Second)
		select {
		case <-got:
			t.Fatal("a third slot was given while two are held")
		default:
		}
		clock.waitTimers(t, 3)
	}
	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	r1()
	clock.Advance(time.Minute)
	clock.waitTimers(t, 2)
	select {
	case <-got:
		t.Fatal("a slot was given while the store was down")
	default:
	}
	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	var r3 func()
	eventually(t, "the waiter gets the freed slot", func() bool {
		clock.Advance(30 * time.Second)
		select {
		case r3 = <-got:
			return true
		default:
			return false
		}
	})
	r3()
	r3() // releasing twice is safe

	cctx, cancel := context.WithCancel(ctx)
	held, err := slots.Acquire(ctx, "carol", 1)
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() {
		_, err := slots.Acquire(cctx, "carol", 1)
		waited <- err
	}()
	clock.waitTimers(t, 3)
	cancel()
	err = <-waited
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, err.Error(), "looker query slots")
	held()
	r2()
}

// TestStoreQuerySlotsWakeOnRelease: a slot a run of the process gives back
// goes at once (the clock never moves here, so no poll runs) to the first
// of its runs waiting for one, one waiter per slot.
func TestStoreQuerySlotsWakeOnRelease(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	clock := newFakeClock(scheduled)
	store := &flakySlots{SlotStore: b.store}
	slots := &jobs.StoreQuerySlots{Store: store, Replica: "r1", Lease: time.Minute, Poll: time.Hour, Clock: clock, Log: b.log}
	ctx := context.Background()

	held, err := slots.Acquire(ctx, "alice", 1)
	require.NoError(t, err)
	got := [2]chan func(){make(chan func(), 1), make(chan func(), 1)}
	for i := range 2 {
		go func() {
			r, err := slots.Acquire(ctx, "alice", 1)
			if err == nil {
				got[i] <- r
			}
		}()
		clock.waitTimers(t, 2+i) // the holder's renewal, the waiters' polls
	}
	require.EqualValues(t, 3, store.tries.Load(), "the holder and each waiter asked the store once")
	take := func(i int, what string) func() {
		t.Helper()
		var r func()
		eventually(t, what, func() bool {
			select {
			case r = <-got[i]:
				return true
			default:
				return false
			}
		})
		return r
	}
	held()
	first := take(0, "the first waiter takes the slot given back")
	select {
	case <-got[1]:
		t.Fatal("two waiters took the one slot given back")
	default:
	}
	first()
	take(1, "the second waiter takes the next slot given back")()
}
