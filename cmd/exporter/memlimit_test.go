package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetMemoryLimit: one export at a time gets 36 MiB, each more run
// slot 24 MiB more; GOMEMLIMIT set by the user wins, and a replica without
// a bound on concurrent runs gets no limit.
func TestSetMemoryLimit(t *testing.T) { //nolint:paralleltest // the runtime's limit is process-wide
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	debug.SetMemoryLimit(math.MaxInt64)
	require.EqualValues(t, 36<<20, setMemoryLimit(1))
	require.EqualValues(t, 36<<20, debug.SetMemoryLimit(-1))
	require.EqualValues(t, (12+24*10)<<20, setMemoryLimit(10))

	debug.SetMemoryLimit(math.MaxInt64)
	require.EqualValues(t, int64(math.MaxInt64), setMemoryLimit(0), "no bound on runs: no limit")

	t.Setenv("GOMEMLIMIT", "1GiB")
	require.EqualValues(t, int64(math.MaxInt64), setMemoryLimit(1), "the user's GOMEMLIMIT is the runtime's own")
}
