package localfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
)

// TestSmallAndLargeFilesWriteTheirBytes: a file written in pieces reaches
// the disk unchanged whether it stays within smallFile, which needs no
// write buffer, or grows past it, which moves what was held into one.
func TestSmallAndLargeFilesWriteTheirBytes(t *testing.T) {
	t.Parallel()
	s := New(zap.NewNop())
	dir := t.TempDir()
	for _, size := range []int{0, 1, smallFile - 1, smallFile, smallFile + 1, 3*smallFile + 5, bufferSize + smallFile} {
		for _, piece := range []int{1000, smallFile + 3} {
			t.Run(fmt.Sprintf("%d_bytes_in_pieces_of_%d", size, piece), func(t *testing.T) {
				t.Parallel()
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(i*7 + i/251)
				}
				path := filepath.Join(dir, fmt.Sprintf("f-%d-%d", size, piece))
				w, err := s.Create(t.Context(), path, sinks.WriteOptions{})
				require.NoError(t, err)
				for p := data; len(p) > 0; {
					k := min(len(p), piece)
					n, err := w.Write(p[:k])
					require.NoError(t, err)
					require.Equal(t, k, n)
					p = p[k:]
				}
				require.NoError(t, w.Close())
				back, err := os.ReadFile(path)
				require.NoError(t, err)
				require.True(t, bytes.Equal(data, back), "the file holds what was written")
			})
		}
	}
}

// TestSmallFileTakesNoWriteBuffer: the files of a small run (data,
// manifest, _SUCCESS) take no bufferSize write buffer. The buffers' pool
// is emptied by garbage collections, which a burst of runs makes often:
// each such file then allocated bufferSize.
func TestSmallFileTakesNoWriteBuffer(t *testing.T) {
	// Not parallel: it reads the process's allocation counter.
	s := New(zap.NewNop())
	dir := t.TempDir()
	data := bytes.Repeat([]byte("x"), 1600)
	const n = 20
	var total uint64
	for i := range n {
		runtime.GC()
		runtime.GC() // the pool keeps its buffers through one collection
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w, err := s.Create(t.Context(), filepath.Join(dir, fmt.Sprintf("f%d.csv", i)), sinks.WriteOptions{})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		runtime.ReadMemStats(&after)
		total += after.TotalAlloc - before.TotalAlloc
	}
	require.Less(t, total/n, uint64(16<<10), "bytes allocated per small file")
}

// TestOnlyFilesWithDataAreFsynced: Close fsyncs a file that holds data,
// and not an empty one (_SUCCESS): it has no data to make durable, and
// its directory's fsync decides whether it exists after a crash.
func TestOnlyFilesWithDataAreFsynced(t *testing.T) {
	// Not parallel: it counts the calls of a package variable.
	var syncs int
	fsyncFile = func(f *os.File) error { syncs++; return f.Sync() }
	t.Cleanup(func() { fsyncFile = (*os.File).Sync })
	s := New(zap.NewNop())
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		writes [][]byte
		syncs  int
	}{
		{"_SUCCESS", nil, 0},
		{"empty-writes", [][]byte{{}, nil}, 0},
		{"data.csv", [][]byte{[]byte("a,b\n")}, 1},
	} {
		syncs = 0
		w, err := s.Create(t.Context(), filepath.Join(dir, tc.name), sinks.WriteOptions{})
		require.NoError(t, err)
		for _, p := range tc.writes {
			_, err := w.Write(p)
			require.NoError(t, err)
		}
		require.NoError(t, w.Close())
		require.Equal(t, tc.syncs, syncs, tc.name)
		got, err := os.ReadFile(filepath.Join(dir, tc.name))
		require.NoError(t, err)
		require.Equal(t, bytes.Join(tc.writes, nil), got)
	}
}
