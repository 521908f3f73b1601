package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the exporter's GOGC unless the environment sets one. An
// export's heap is mostly long-lived buffers of bounded size (a Parquet
// row group of 8 MiB, page buffers, decode batches: about 21 MiB) and
// allocates little more as rows stream, so a collection at 25% growth
// instead of Go's 100% costs next to no CPU and keeps the heap near what
// is live: the peak RSS of a 10M-row Parquet export is 61 MiB instead of
// 68. A GOGC in the environment wins, and so does
// GOMEMLIMIT, which the runtime reads itself. Unlike a memory limit it
// scales with what is live, so many runs at once, or a GCS upload's 16 MiB
// chunks, never push the collector into running all the time.
const gcPercent = 25

// serveGCPercent is serve's GOGC unless the environment sets one. A daemon
// runs many exports at once, most of them small: each allocates its
// buffers, requests and logs anew, while what is live stays small, so at
// 25% the collector runs all the time. In BenchmarkBurst (1,000 jobs at
// once on two replicas) 50% instead of 25% took the replicas' CPU per run
// from 14 to 9 ms writing to GCS and from 4.6-5.6 to 4.6 ms writing local
// files, at 73-79 MiB peak RSS instead of 65-72 (GOGC 100: 91 MiB).
// Once serve's config is loaded, a floor (gcFloor) keeps a small heap from
// collecting more often than every serveGCFloor bytes.
const serveGCPercent = 50

// setGCPercent applies percent unless GOGC is set.
func setGCPercent(percent int) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(percent)
}

// serveGCFloor is serve's heap floor, once its config is loaded (gcFloor).
const serveGCFloor = 16 << 20
