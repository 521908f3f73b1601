package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// gcFloor puts a floor under serve's GOGC: after each collection it sets
// the percentage so that the next collection comes once the heap has
// grown by percent or by floor bytes, whichever is more. GOGC alone
// scales with what is live, and a daemon's live heap is small (for 1,000
// jobs, their configs, schedules and metric series: 12-20 MiB), so at
// 50% it collects every few MiB of a burst's garbage, each time marking
// all that is live again. With a floor of 16 MiB a burst of 1,000 small
// runs on two replicas costs 2.6-2.8 ms of CPU per run instead of 2.9-3.1
// (writing to GCS, 4.1 instead of 5.3), for 64-66 MiB of peak RSS per
// replica instead of 52 (GCS: 72 instead of 61). A large live heap (big
// exports at once) still collects at percent, so what a floor costs in
// memory is bounded by the floor.
type gcFloor struct {
	percent int    // the percentage once the live heap exceeds floor*100/percent
	floor   uint64 // the least growth, in bytes, between collections
	// live reads the heap the last collection left live (liveHeap).
	live func() uint64
	// set applies a percentage (debug.SetGCPercent).
	set func(int) int
	// cur is the percentage last set; 0 before the first tune. tune runs
	// once in startGCFloor, then only in the runtime's cleanup goroutine,
	// which runs cleanups one at a time: cur needs no lock.
	cur int
}

// maxFloorPercent bounds the percentage a floor sets, for a heap that is
// nearly empty.
const maxFloorPercent = 400

// tune sets the percentage for the heap the last collection left live.
func (g *gcFloor) tune() {
	p := g.percent
	if live := g.live(); live > 0 { // 0 before the first collection
		p = max(p, int(min(maxFloorPercent, (g.floor*100+live-1)/live)))
	}
	if p != g.cur {
		g.set(p)
		g.cur = p
	}
}

// liveHeap reads /gc/heap/live:bytes, the heap the last collection
// marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// gcSentinel's cleanup runs after the collection that finds it
// unreachable. It is larger than the runtime's tiny allocations, whose
// cleanups may never run.
type gcSentinel struct{ _ [64]byte }

// afterEachGC calls f, in the runtime's cleanup goroutine, after each
// garbage collection from the next one on, until f returns false.
func afterEachGC(f func() bool) {
	runtime.AddCleanup(new(gcSentinel), func(struct{}) {
		if f() {
			afterEachGC(f)
		}
	}, struct{}{})
}

// startGCFloor keeps percent with a floor of floor bytes (gcFloor) until
// the returned function is called, unless GOGC is set: then the user's
// percentage stays, as GOMEMLIMIT, which the runtime applies itself,
// always does.
func startGCFloor(percent int, floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	g := &gcFloor{percent: percent, floor: floor, live: liveHeap, set: debug.SetGCPercent}
	g.tune()
	var stopped atomic.Bool
	afterEachGC(func() bool {
		if stopped.Load() {
			return false
		}
		g.tune()
		return true
	})
	return func() { stopped.Store(true) }
}
