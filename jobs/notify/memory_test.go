package notify_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/notify"
)

// TestNewAllocatesLittle: every command that runs jobs builds a Notifier,
// hooks or not, so its queue of 1024 runs must not cost a Run's size per
// slot up front (0.3 MiB allocated). Fresh pages the queue never touches
// are not resident, so this is heap, not measured RSS; in a process
// whose heap is reused they are zeroed, and so touched. It counts bytes
// allocated, not time.
func TestNewAllocatesLittle(t *testing.T) { //nolint:paralleltest // it counts the process's allocations
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := notify.New(notify.Options{})
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(n)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("New allocated %d bytes", got)
	require.Less(t, got, uint64(32<<10))
}
