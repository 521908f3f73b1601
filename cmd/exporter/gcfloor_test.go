package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCFloorSetsThePercentForTheLiveHeap(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		live uint64
		want int
	}{
		{"before the first collection", 0, 50},
		{"a nearly empty heap, capped", 1 * mib, maxFloorPercent},
		{"a small heap grows by the floor", 8 * mib, 200},
		{"rounded up, never below the floor", 12 * mib, 134},
		{"where floor and percent meet", 32 * mib, 50},
		{"a large heap grows by the percent", 256 * mib, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var set []int
			g := &gcFloor{percent: 50, floor: 16 * mib, live: func() uint64 { return tc.live }, set: func(p int) int { set = append(set, p); return 0 }}
			g.tune()
			g.tune()
			require.Equal(t, []int{tc.want}, set, "set once, to the percentage for %d MiB live", tc.live/mib)
			if tc.live > 0 && tc.want != maxFloorPercent {
				goal := tc.live + tc.live*uint64(tc.want)/100
				require.GreaterOrEqual(t, goal+1, tc.live+16*mib, "the heap may grow by the floor")
				require.GreaterOrEqual(t, goal, tc.live*3/2, "and by the percent")
			}
		})
	}
	t.Run("follows the live heap", func(t *testing.T) {
		t.Parallel()
		live := []uint64{8 * mib, 8 * mib, 64 * mib, 4 * mib}
		var set []int
		g := &gcFloor{percent: 50, floor: 16 * mib, live: func() uint64 { l := live[0]; live = live[1:]; return l }, set: func(p int) int { set = append(set, p); return 0 }}
		for range 4 {
			g.tune()
		}
		require.Equal(t, []int{200, 50, maxFloorPercent}, set)
	})
}

// TestAfterEachGCRunsAfterEveryCollection: f runs once per collection
// until it returns false.
func TestAfterEachGCRunsAfterEveryCollection(t *testing.T) { //nolint:paralleltest // counts collections, which other tests would make too
	calls := make(chan int, 10)
	n := 0
	afterEachGC(func() bool {
		n++
		calls <- n
		return n < 3
	})
	for want := 1; want <= 3; want++ {
		runtime.GC()
		select {
		case got := <-calls:
			require.Equal(t, want, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("f was not called after collection %d", want)
		}
	}
	// f returned false: it is not called again. A probe armed now runs
	// after the next collection, as f would have.
	probe := make(chan struct{})
	afterEachGC(func() bool { close(probe); return false })
	runtime.GC()
	select {
	case <-probe:
	case <-time.After(10 * time.Second):
		t.Fatal("the probe was not called after a collection")
	}
	require.Empty(t, calls, "f ran after returning false")
}

// TestStartGCFloor: serve's floor applies unless GOGC is set, and stops.
func TestStartGCFloor(t *testing.T) { //nolint:paralleltest // GOGC and the runtime's percentage are process-wide
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "80")
	debug.SetGCPercent(80)
	startGCFloor(serveGCPercent, serveGCFloor)()
	runtime.GC()
	require.Equal(t, 80, debug.SetGCPercent(80), "the user's GOGC wins")

	require.NoError(t, os.Unsetenv("GOGC")) // t.Setenv restores it
	debug.SetGCPercent(100)
	stop := startGCFloor(serveGCPercent, serveGCFloor)
	defer stop()
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	require.GreaterOrEqual(t, p, serveGCPercent, "serve's percentage at least")
	require.LessOrEqual(t, p, maxFloorPercent)
}
