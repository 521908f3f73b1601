package main

import (
	"os"
	"runtime/debug"
)

// The soft memory limit the exporter gives the Go runtime when GOMEMLIMIT
// is not set: memPerProcess, plus memPerRun for each export that may run
// at once. An export's heap is bounded by design (a Parquet row group of
// 8 MiB, page buffers, decode batches: about 21 MiB at most), but without
// a limit the runtime hands the memory a collection frees back to the
// system only slowly, so the RSS of a long run creeps up: a 10M-row
// Parquet export peaked at 70 MiB without a limit and at 63 MiB with 36
// MiB, for the same CPU (measured with cmd/exporter-bench).
const (
	memPerProcess = 12 << 20
	memPerRun     = 24 << 20
)

// setMemoryLimit sets the runtime's soft memory limit for a process that
// runs at most runs exports at once, unless GOMEMLIMIT is set or runs is 0
// (no bound on concurrent runs: no limit). It returns the limit in force.
func setMemoryLimit(runs int) int64 {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set || runs <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	limit := int64(memPerProcess + runs*memPerRun)
	debug.SetMemoryLimit(limit)
	return limit
}
