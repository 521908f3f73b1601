package parquetenc

import (
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats/internal/fixture"
)

// TestSmallResultAllocatesForItsRows: an encoder that has taken a few rows
// has allocated for those rows, not for two full batches of batchRows
// (12 columns: 4096 rows, some 3 MiB before any parquet-go buffer).
// Capacity a small result never writes is mostly not resident (fresh
// pages are not touched), so this bounds the heap, not RSS: the peak RSS
// of a 200-row `exporter run` did not move measurably (issue 14). It
// counts bytes allocated, not time.
func TestSmallResultAllocatesForItsRows(t *testing.T) { //nolint:paralleltest // it counts the process's allocations
	c := fixture.Wide(12, 10)
	allocated := func() uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w, err := New(io.Discard, c.Schema, Options{})
		require.NoError(t, err)
		for _, row := range c.Rows {
			require.NoError(t, w.WriteRow(row))
		}
		runtime.ReadMemStats(&after)
		require.NoError(t, w.Close())
		return after.TotalAlloc - before.TotalAlloc
	}
	allocated() // warm up: package-level state, pools
	got := min(allocated(), allocated())
	e, err := New(io.Discard, c.Schema, Options{})
	require.NoError(t, err)
	full := uint64(e.(*encoder).batchRows) * 12 * 2 * 16 // two batches' cells
	t.Logf("New and 10 rows of 12 columns allocated %d bytes; full batches would be %d", got, full)
	require.Less(t, got, full/4, "the batches grow with the rows")
}
