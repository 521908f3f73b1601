package parquetenc

import (
	"bytes"
	"runtime"
	"testing"

	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/stretchr/testify/require"
)

// TestZstdPagesKeepTheirEncoder: compressing a page allocates next to
// nothing, even with a garbage collection before each page, where a codec
// that takes its encoder from a sync.Pool (parquet-go's) builds a new one
// of several MiB each time: a 2M-row zstd export ran 2.3 times slower
// than a snappy one for it.
func TestZstdPagesKeepTheirEncoder(t *testing.T) { //nolint:paralleltest // it counts the process's allocations

	page := bytes.Repeat([]byte("orders.status=complete;"), 10000) // 230 KB
	perPage := func(encode func(dst, src []byte) ([]byte, error)) float64 {
		dst := make([]byte, 0, len(page))
		var err error
		dst, err = encode(dst, page) // warm up
		require.NoError(t, err)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 10 {
			runtime.GC()
			dst, err = encode(dst[:0], page)
			require.NoError(t, err)
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / 10
	}
	z, err := newZstdPages(256 << 10)
	require.NoError(t, err)
	ours := perPage(z.Encode)
	pooled := perPage((&pqzstd.Codec{Level: pqzstd.SpeedFastest}).Encode)
	t.Logf("bytes allocated per page: ours %.0f, parquet-go's pooled codec %.0f", ours, pooled)
	require.Less(t, ours, float64(1<<20), "ours keeps its encoder")
	require.Greater(t, pooled, 10*ours, "the pooled codec allocates an encoder after a collection (what this test guards against)")

	got, err := z.Decode(nil, mustEncode(t, z, page))
	require.NoError(t, err)
	require.Equal(t, page, got)
}

func mustEncode(t *testing.T, z *zstdPages, src []byte) []byte {
	t.Helper()
	out, err := z.Encode(nil, src)
	require.NoError(t, err)
	return out
}
