package main

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunPeakIsTheChildsOwn: the peak RSS measured is the child's, not
// this process's, however much more this process holds (getrusage's
// maxrss of a vforked child is at least its parent's peak).
func TestRunPeakIsTheChildsOwn(t *testing.T) {
	held := make([]byte, 96<<20)
	for i := range held {
		held[i] = 1
	}
	for _, mib := range []int{0, 48} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestHelperAllocates$")
		cmd.Env = append(os.Environ(), "EXPORTER_BENCH_HELPER_MIB="+strconv.Itoa(mib))
		peak, err := runPeak(cmd)
		require.NoError(t, err)
		require.Greater(t, peak, int64(mib)<<10, "the child's %d MiB count", mib)
		require.Less(t, peak, int64(mib+40)<<10, "this process's %d MiB do not", len(held)>>20)
	}
	require.Equal(t, byte(1), held[len(held)-1])

	_, err := runPeak(exec.Command("/bin/sh", "-c", "exit 3"))
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the child's exit status is returned")
	require.Equal(t, 3, exit.ExitCode())
}

// TestHelperAllocates is the child of TestRunPeakIsTheChildsOwn: it
// touches EXPORTER_BENCH_HELPER_MIB MiB.
func TestHelperAllocates(t *testing.T) {
	mib, err := strconv.Atoi(os.Getenv("EXPORTER_BENCH_HELPER_MIB"))
	if err != nil {
		t.Skip("the child of TestRunPeakIsTheChildsOwn")
	}
	b := make([]byte, mib<<20)
	for i := range b {
		b[i] = 1
	}
	require.Len(t, b, mib<<20)
}
