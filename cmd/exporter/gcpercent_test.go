package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetGCPercent: the exporter collects at 25% heap growth unless GOGC
// says otherwise (serve's 50% is checked on a running daemon's metrics in
// TestSIGHUPOfPathologicalConfigsLeavesTheDaemonServing).
func TestSetGCPercent(t *testing.T) { //nolint:paralleltest // GOGC and the runtime's percentage are process-wide
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "80") // restored after the test
	debug.SetGCPercent(80)
	setGCPercent(gcPercent)
	require.Equal(t, 80, debug.SetGCPercent(100), "the user's GOGC wins")
	debug.SetGCPercent(80)
	setGCPercent(serveGCPercent)
	require.Equal(t, 80, debug.SetGCPercent(100), "the user's GOGC wins over serve's too")

	require.NoError(t, os.Unsetenv("GOGC"))
	setGCPercent(gcPercent)
	require.Equal(t, 25, debug.SetGCPercent(100))
}
