package statetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state"
)

// runSlots covers AcquireSlot, RenewSlot and ReleaseSlot on one store.
func runSlots(t *testing.T, setup func(t *testing.T) (context.Context, Store)) {
	const lease = 30 * time.Second

	t.Run("SlotsUpToMax", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		steps := []struct {
			holder string
			max    int
			want   bool
		}{
			{"a", 3, true},
			{"b", 3, true},
			{"c", 3, true},
			{"d", 3, false},
			{"e", 3, false},
			{"d", 2, false}, // a smaller max admits nobody new either
			{"d", 4, true},  // a larger one admits up to it
			{"e", 4, false},
		}
		for i, st := range steps {
			got, err := s.AcquireSlot(ctx, "user-1", st.holder, st.max, base, lease)
			require.NoError(t, err, "step %d", i)
			require.Equal(t, st.want, got, "step %d: %s with max %d", i, st.holder, st.max)
		}
	})

	t.Run("SlotsRejectBadArguments", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		tests := []struct {
			name, key, holder string
			max               int
			lease             time.Duration
		}{
			{"empty key", "", "a", 1, lease},
			{"empty holder", "k", "", 1, lease},
			{"zero max", "k", "a", 0, lease},
			{"negative max", "k", "a", -1, lease},
			{"zero lease", "k", "a", 1, 0},
			{"negative lease", "k", "a", 1, -lease},
		}
		for _, tt := range tests {
			ok, err := s.AcquireSlot(ctx, tt.key, tt.holder, tt.max, base, tt.lease)
			require.Error(t, err, tt.name)
			require.False(t, ok, tt.name)
		}
		ok, err := s.AcquireSlot(ctx, "k", "a", 1, base, lease)
		require.NoError(t, err)
		require.True(t, ok, "rejected calls took no slot")
		require.Error(t, s.RenewSlot(ctx, "k", "a", base, 0))
		require.Error(t, s.RenewSlot(ctx, "", "a", base, lease))
		require.Error(t, s.RenewSlot(ctx, "k", "", base, lease))
	})

	t.Run("SlotsExpiredHoldersDoNotCount", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		acquire := func(holder string, at time.Duration, want bool) {
			t.Helper()
			// Times in another location are the same instants.
			got, err := s.AcquireSlot(ctx, "user-1", holder, 2, base.Add(at).In(est), lease)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s at +%s", holder, at)
		}
		acquire("a", 0, true)                       // until +30s
		acquire("b", 10*time.Second, true)          // until +40s
		acquire("c", lease-time.Microsecond, false) // a's lease has not ended yet
		acquire("c", lease, true)                   // a's lease ends at +30s exactly
		acquire("d", lease, false)                  // b still holds until +40s
		acquire("d", 40*time.Second, true)          // b's ended too
		acquire("e", 40*time.Second, false)         // c and d hold
		acquire("e", 60*time.Second, true)          // c's lease ended at +60s
		acquire("f", 60*time.Second, false)         // d and e hold
		acquire("f", 1000*time.Hour, true)          // everyone's ended
		require.ErrorIs(t, s.RenewSlot(ctx, "user-1", "a", base.Add(time.Hour), lease), state.ErrSlotLost)
	})

	t.Run("SlotsExpiredHoldersAreRemoved", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		acquire := func(holder string, at time.Duration, want bool) {
			t.Helper()
			got, err := s.AcquireSlot(ctx, "user-1", holder, 2, base.Add(at), lease)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s at +%s", holder, at)
		}
		acquire("a", 0, true)               // until +30s
		acquire("b", 20*time.Second, true)  // until +50s
		acquire("c", 40*time.Second, true)  // takes a's slot, removes a
		acquire("d", 45*time.Second, false) // b and c hold
		require.ErrorIs(t, s.RenewSlot(ctx, "user-1", "a", base.Add(45*time.Second), lease), state.ErrSlotLost,
			"an acquisition removed the expired holder")

		// A refused acquisition removes expired holders too. Refusing one
		// while a holder has expired takes a max that shrank.
		for _, h := range []struct {
			holder string
			at     time.Duration
		}{{"p", 0}, {"q", 20 * time.Second}, {"r", 25 * time.Second}} {
			ok, err := s.AcquireSlot(ctx, "user-2", h.holder, 3, base.Add(h.at), lease)
			require.NoError(t, err)
			require.True(t, ok, h.holder)
		}
		ok, err := s.AcquireSlot(ctx, "user-2", "x", 2, base.Add(40*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok, "q and r hold")
		require.ErrorIs(t, s.RenewSlot(ctx, "user-2", "p", base.Add(40*time.Second), lease), state.ErrSlotLost,
			"the refused acquisition removed the expired holder")
	})

	t.Run("SlotsRenew", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		ok, err := s.AcquireSlot(ctx, "user-1", "a", 1, base, lease) // until +30s
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.RenewSlot(ctx, "user-1", "a", base.Add(20*time.Second), lease)) // until +50s
		ok, err = s.AcquireSlot(ctx, "user-1", "b", 1, base.Add(50*time.Second-time.Microsecond), lease)
		require.NoError(t, err)
		require.False(t, ok, "the renewed lease holds")
		ok, err = s.AcquireSlot(ctx, "user-1", "b", 1, base.Add(50*time.Second), lease)
		require.NoError(t, err)
		require.True(t, ok, "the renewed lease ends at renewal + lease")

		// Never held: lost.
		require.ErrorIs(t, s.RenewSlot(ctx, "user-1", "z", base, lease), state.ErrSlotLost)
		require.ErrorIs(t, s.RenewSlot(ctx, "user-2", "b", base, lease), state.ErrSlotLost)
	})

	t.Run("SlotsRenewAfterLoss", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		ok, err := s.AcquireSlot(ctx, "user-1", "a", 1, base, lease) // until +30s
		require.NoError(t, err)
		require.True(t, ok)

		// Ended, but nobody asked for the slot: a late renewal keeps it.
		require.NoError(t, s.RenewSlot(ctx, "user-1", "a", base.Add(40*time.Second), lease)) // until +70s
		ok, err = s.AcquireSlot(ctx, "user-1", "b", 1, base.Add(60*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok, "a kept its slot")

		// Ended, and b took the slot: lost, and a cannot take it back.
		ok, err = s.AcquireSlot(ctx, "user-1", "b", 1, base.Add(70*time.Second), lease) // until +100s
		require.NoError(t, err)
		require.True(t, ok)
		err = s.RenewSlot(ctx, "user-1", "a", base.Add(71*time.Second), lease)
		require.ErrorIs(t, err, state.ErrSlotLost)
		require.ErrorContains(t, err, "user-1", "the error names the slot")
		ok, err = s.AcquireSlot(ctx, "user-1", "a", 1, base.Add(71*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, s.RenewSlot(ctx, "user-1", "b", base.Add(71*time.Second), lease), "the new holder renews")

		// Released: lost.
		require.NoError(t, s.ReleaseSlot(ctx, "user-1", "b"))
		require.ErrorIs(t, s.RenewSlot(ctx, "user-1", "b", base.Add(72*time.Second), lease), state.ErrSlotLost)
	})

	t.Run("SlotsRelease", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		for _, h := range []string{"a", "b"} {
			ok, err := s.AcquireSlot(ctx, "user-1", h, 2, base, lease)
			require.NoError(t, err)
			require.True(t, ok)
		}
		// Releasing what is not held frees nothing and is not an error.
		require.NoError(t, s.ReleaseSlot(ctx, "user-1", "z"))
		require.NoError(t, s.ReleaseSlot(ctx, "user-2", "a"))
		require.NoError(t, s.ReleaseSlot(ctx, "", ""))
		ok, err := s.AcquireSlot(ctx, "user-1", "c", 2, base, lease)
		require.NoError(t, err)
		require.False(t, ok)

		require.NoError(t, s.ReleaseSlot(ctx, "user-1", "a"))
		require.NoError(t, s.ReleaseSlot(ctx, "user-1", "a"), "releasing twice is not an error")
		ok, err = s.AcquireSlot(ctx, "user-1", "c", 2, base, lease)
		require.NoError(t, err)
		require.True(t, ok, "the released slot is free at once")
		ok, err = s.AcquireSlot(ctx, "user-1", "d", 2, base, lease)
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, s.RenewSlot(ctx, "user-1", "b", base, lease), "other holders are untouched")
	})

	t.Run("SlotsReacquireRenews", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		for i, at := range []time.Duration{0, 20 * time.Second} {
			ok, err := s.AcquireSlot(ctx, "user-1", "a", 2, base.Add(at), lease)
			require.NoError(t, err)
			require.True(t, ok, "acquisition %d", i)
		}
		// a counts once: one slot is left.
		ok, err := s.AcquireSlot(ctx, "user-1", "b", 2, base.Add(20*time.Second), lease) // until +50s
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.AcquireSlot(ctx, "user-1", "c", 2, base.Add(20*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok)
		ok, err = s.AcquireSlot(ctx, "user-1", "c", 2, base.Add(30*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok, "the second acquisition renewed a's lease past +30s")
		// A holder gets true even when max shrank below the holders.
		ok, err = s.AcquireSlot(ctx, "user-1", "a", 1, base.Add(35*time.Second), lease) // until +65s
		require.NoError(t, err)
		require.True(t, ok)
		// At +50s b's lease ended, a's did not.
		ok, err = s.AcquireSlot(ctx, "user-1", "c", 2, base.Add(50*time.Second), lease)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.AcquireSlot(ctx, "user-1", "d", 2, base.Add(50*time.Second), lease)
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("SlotsKeysAreIndependent", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		acquire := func(key, holder string, want bool) {
			t.Helper()
			got, err := s.AcquireSlot(ctx, key, holder, 1, base, lease)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s on %q", holder, key)
		}
		keys := []string{
			"https://looker.example.com client-1",
			"https://looker.example.com client-1 sudo 7",
			"https://looker.example.com client-10",
			"https://other.example.com client-1",
		}
		for _, k := range keys {
			acquire(k, "a", true)
		}
		for _, k := range keys {
			acquire(k, "b", false)
		}
		require.NoError(t, s.ReleaseSlot(ctx, keys[1], "a"))
		for i, k := range keys {
			acquire(k, "b", i == 1)
		}
		require.NoError(t, s.RenewSlot(ctx, keys[0], "a", base, lease))
		require.ErrorIs(t, s.RenewSlot(ctx, keys[1], "a", base, lease), state.ErrSlotLost)
	})

	t.Run("SlotsTextIsCleaned", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		// Keys and holders come from configuration and replica names: any
		// bytes must work, in every store.
		key, holder := "user \xff\x00 münchen", "replica-é \xfe"
		ok, err := s.AcquireSlot(ctx, key, holder, 1, base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.AcquireSlot(ctx, key, holder, 1, base, lease)
		require.NoError(t, err)
		require.True(t, ok, "the same bytes are the same holder")
		require.NoError(t, s.RenewSlot(ctx, key, holder, base, lease))
		require.NoError(t, s.ReleaseSlot(ctx, key, holder))
		require.ErrorIs(t, s.RenewSlot(ctx, key, holder, base, lease), state.ErrSlotLost)
	})

	t.Run("SlotsCancelledContext", func(t *testing.T) {
		t.Parallel()
		ctx, s := setup(t)
		ok, err := s.AcquireSlot(ctx, "user-1", "a", 1, base, lease)
		require.NoError(t, err)
		require.True(t, ok)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"AcquireSlot": func() error { _, err := s.AcquireSlot(cctx, "user-1", "b", 2, base, lease); return err },
			"RenewSlot":   func() error { return s.RenewSlot(cctx, "user-1", "a", base, lease) },
			"ReleaseSlot": func() error { return s.ReleaseSlot(cctx, "user-1", "a") },
		}
		for name, call := range calls {
			err := call()
			require.Error(t, err, name)
			require.True(t, errors.Is(err, context.Canceled), "%s: %v does not wrap context.Canceled", name, err)
		}
		// Nothing happened: a still holds the only slot of max 1.
		ok, err = s.AcquireSlot(ctx, "user-1", "b", 1, base, lease)
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, s.RenewSlot(ctx, "user-1", "a", base, lease))
	})

	t.Run("SlotsConcurrentNeverExceedMax", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t)
		hammerSlots(t, []Store{s})
	})
}

// hammerSlots has goroutines spread over stores (which share one database)
// take and give back slots of one key as fast as they can, and fails if more
// than max ever hold it at once: each holder counts itself in an atomic
// counter between a granted AcquireSlot and its ReleaseSlot, and checks with
// the store (RenewSlot) that it still holds its slot. The first failure stops
// every worker, and a store that never gives a slot back fails after a
// minute instead of hanging the test.
func hammerSlots(t *testing.T, stores []Store) {
	t.Helper()
	const (
		key     = "hammered"
		max     = 3
		workers = 8
		holds   = 12 // per worker
		lease   = time.Hour
	)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var (
		holding   atomic.Int64
		highWater atomic.Int64
		refused   atomic.Int64
		failOnce  sync.Once
		failure   error
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err })
		cancel()
	}
	hold := func(s Store, holder string) error {
		// One clock reading for all: no lease ends, so only releases free
		// slots.
		for {
			ok, err := s.AcquireSlot(ctx, key, holder, max, base, lease)
			if err != nil {
				return err
			}
			if ok {
				break
			}
			refused.Add(1)
			runtime.Gosched()
		}
		n := holding.Add(1)
		for {
			hw := highWater.Load()
			if n <= hw || highWater.CompareAndSwap(hw, n) {
				break
			}
		}
		if n > max {
			return fmt.Errorf("%d holders at once, max is %d", n, max)
		}
		if err := s.RenewSlot(ctx, key, holder, base, lease); err != nil {
			return fmt.Errorf("the store forgot a live holder: %w", err)
		}
		holding.Add(-1)
		return s.ReleaseSlot(ctx, key, holder)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		s := stores[w%len(stores)]
		holder := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			<-start
			for h := range holds {
				if err := hold(s, holder); err != nil {
					fail(fmt.Errorf("%s, hold %d: %w", holder, h, err))
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, failure)
	t.Logf("%d holds, %d refusals, at most %d holders at once", workers*holds, refused.Load(), highWater.Load())

	// Every slot came back: max new holders get one, on any store, and the
	// next is refused.
	for i := range max + 1 {
		ok, err := stores[i%len(stores)].AcquireSlot(t.Context(), key, fmt.Sprintf("after-%d", i), max, base, lease)
		require.NoError(t, err)
		require.Equal(t, i < max, ok, "holder %d after the hammering", i)
	}
}
