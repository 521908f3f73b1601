package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetGCPercent: the exporter collects at 25% heap growth unless GOGC
// says otherwise.
func TestSetGCPercent(t *testing.T) { //nolint:paralleltest // GOGC and the runtime's percentage are process-wide
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "80") // restored after the test
	debug.SetGCPercent(80)
	setGCPercent()
	require.Equal(t, 80, debug.SetGCPercent(100), "the user's GOGC wins")

	require.NoError(t, os.Unsetenv("GOGC"))
	setGCPercent()
	require.Equal(t, 25, debug.SetGCPercent(100))
}
