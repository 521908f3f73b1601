package localfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWritebackStartsEveryChunk: the writeback of each chunk is started
// once it has been written, over consecutive ranges, and the bytes reach
// the file unchanged.
func TestWritebackStartsEveryChunk(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	type span struct{ off, n int64 }
	var got []span
	w := newWritebackFile(f)
	real := w.startWriteback
	w.startWriteback = func(f *os.File, off, n int64) {
		got = append(got, span{off, n})
		real(f, off, n) // the real call must accept these ranges
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*writebackChunk+writebackChunk/2)/16)
	for p := data; len(p) > 0; {
		k := min(len(p), 3<<20) // writes that do not end on a chunk boundary
		n, err := w.Write(p[:k])
		require.NoError(t, err)
		require.Equal(t, k, n)
		p = p[k:]
	}
	require.Equal(t, []span{{0, 9 << 20}, {9 << 20, 9 << 20}}, got)
	require.NoError(t, f.Sync())
	back, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, back))
}
